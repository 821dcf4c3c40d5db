"""The local cloud's `KEY=value` files (`<state>/local.env`, `<state>/pids`) and the client
settings the scripts that talk to the cloud build from `local.env`."""


def read_env(path, missing_ok=False):
    """`KEY=value` lines into a dict; `#` lines are comments."""
    if missing_ok and not path.exists():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def client_settings(env):
    """boto3 client arguments for the local cloud named in `env`."""
    return dict(
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
