"""`airflow-mlops ui` (`make ui`): `airflow standalone` on the demo's state, on a free port.

The same Airflow home, DAGs folder and log folder as `make demo` (demo.airflow_env), so the
demo's runs and their task logs are there. Port 8080 is used when it is free; when it is
taken the command says so and picks a free port (or, with `--port`, stops), and the API
server's base URL and the workers' execution API URL follow the port — links and task
runs would otherwise go to whoever holds 8080.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

PREFERRED_PORT = 8080
HOST = "127.0.0.1"
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(explicit: int | None) -> tuple[int | None, str]:
    """(port, what to tell the user); port None when an explicitly asked port is taken."""
    if explicit is not None:
        if port_is_free(explicit):
            return explicit, f"Port {explicit} as asked."
        return None, (
            f"Port {explicit} is taken: something (maybe another Airflow) listens on "
            f"{HOST}:{explicit}. Stop it, or run `make ui PORT=<another port>`."
        )
    if port_is_free(PREFERRED_PORT):
        return PREFERRED_PORT, f"Port {PREFERRED_PORT} is free."
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    return port, (
        f"Port {PREFERRED_PORT} is taken (another Airflow or another program listens there): "
        f"using free port {port} instead. Open the URL below, not :{PREFERRED_PORT}."
    )


def ui_env(project: Path, port: int) -> dict[str, str]:
    from airflow_mlops_provider.demo import airflow_env

    url = f"http://{HOST}:{port}"
    return {
        **airflow_env(project),
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
    }


def run_ui(project: Path, port: int | None = None) -> int:
    chosen, message = choose_port(port)
    print(message)
    if chosen is None:
        return 2
    env = ui_env(project, chosen)
    home = Path(env["AIRFLOW_HOME"])
    url = env["AIRFLOW__API__BASE_URL"]
    print(
        f"Airflow UI:      {url}\n"
        f"MLOps pipelines: {url}/plugin/mlops-pipelines\n"
        f"Sign in as admin; the password is printed below by `airflow standalone` and kept in "
        f"{home / PASSWORD_FILE}\n"
        f"Task logs:       {home / 'logs'} (the demo's runs are there too)\n"
        "Stop with Ctrl-C.",
        flush=True,
    )
    airflow = str(Path(sys.executable).parent / "airflow")
    os.execve(airflow, [airflow, "standalone"], env)
    return 0  # not reached: exec replaces this process
