"""Kubernetes' own grammar for the values `training:` passes to a pod, checked when the YAML
is validated instead of when the API server refuses the pod (or, for an environment name, when
the trainer cannot start). Each function returns why a value is wrong, or None."""

from __future__ import annotations

import re

# resource.Quantity: <number><suffix>, suffix a binary (Ki..Ei), decimal (m, k, M..E) or
# exponent (e3) one, no space.
QUANTITY = re.compile(r"\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[KMGTPE]i|[mkMGTPE]|[eE][-+]?\d+)?")
DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?")
LABEL_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
SECRET_KEY = re.compile(r"[-._A-Za-z0-9]{1,253}")
# A C identifier: what every shell and `env` accept, and a Kubernetes env name too.
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def quantity_problem(value: str, example: str) -> str | None:
    if not QUANTITY.fullmatch(value):
        return (
            f"{value!r} is not a Kubernetes quantity; write e.g. {example} (a number and a "
            "unit, no space: Ki/Mi/Gi are powers of 1024, k/M/G of 1000, m is a thousandth)"
        )
    if float(re.sub(r"[A-Za-z]+.*$", "", value) or 0) == 0:
        return f"{value!r} is zero; give an amount or leave the key out"
    return None


def env_name_problem(name: str) -> str | None:
    if ENV_NAME.fullmatch(name):
        return None
    return (
        f"{name!r} is not an environment variable name; use letters, digits and _ "
        "(not starting with a digit), e.g. LOG_LEVEL"
    )


def dns_label_problem(value: str, what: str) -> str | None:
    if DNS_LABEL.fullmatch(value):
        return None
    return f"{value!r} is not a valid {what}: lowercase letters, digits and -, at most 63"


def dns_subdomain_problem(value: str, what: str) -> str | None:
    if DNS_SUBDOMAIN.fullmatch(value) and len(value) <= 253:
        return None
    return f"{value!r} is not a valid {what}: lowercase letters, digits, - and ., at most 253"


def label_key_problem(key: str) -> str | None:
    """A label key: an optional DNS-subdomain prefix and `/`, then a name of 63 at most."""
    prefix, _, name = key.rpartition("/")
    if LABEL_NAME.fullmatch(name) and (not prefix or DNS_SUBDOMAIN.fullmatch(prefix)):
        return None
    return f"{key!r} is not a Kubernetes label key (e.g. node-pool or example.com/gpu-type)"


def label_value_problem(value: str) -> str | None:
    if LABEL_VALUE.fullmatch(value):
        return None
    return (
        f"{value!r} is not a Kubernetes label value: letters, digits, -, _ and ., at most 63, "
        "starting and ending with a letter or digit"
    )


def secret_ref_problem(ref: str) -> str | None:
    """`secret-name/key`: a Secret's name (DNS subdomain) and one of its keys."""
    name, slash, key = ref.partition("/")
    if not slash or "/" in key:
        return "write secret references as secret-name/key"
    if not DNS_SUBDOMAIN.fullmatch(name):
        return f"{name!r} is not a Secret name: lowercase letters, digits, - and ."
    if not SECRET_KEY.fullmatch(key):
        return f"{key!r} is not a Secret key: letters, digits, -, _ and ."
    return None
