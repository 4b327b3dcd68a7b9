"""``mlstack endpoint keys | invoke``: use a stack's online endpoints.

The scoring URI and keys come from the stack's outputs (keys are Pulumi secrets and are
shown only when asked for), so this works the same for any stack Pulumi can read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from PIL import Image
from rich.console import Console
from rich.table import Table

from mlstack.cli.lineage import StackOption
from mlstack.errors import MlstackError
from mlstack.stack import open_stack

endpoint_app = typer.Typer(help="Use a stack's online endpoints.", no_args_is_help=True)
console = Console(highlight=False)
DEPLOYMENT_HEADER = "azureml-model-deployment"


def endpoint_outputs(name: str, stack: str | None) -> dict[str, Any]:
    """The endpoint's scoring URI, traffic and keys (decrypted), from the stack's outputs."""
    opened = open_stack(stack)
    endpoints = dict(opened.outputs().get("endpoints") or {})
    if name not in endpoints:
        known = ", ".join(sorted(endpoints)) or "none"
        raise MlstackError(f"stack {opened.name!r} has no endpoint {name!r} (endpoints: {known})")
    return dict(endpoints[name])


def image_request(folder: Path, count: int) -> tuple[dict[str, Any], list[str]]:
    """``count`` PNGs from a ``<label>/<image>.png`` folder as a request, and their labels."""
    files = sorted(folder.rglob("*.png"))
    if not files:
        raise MlstackError(f"{folder} holds no PNG images: run `python training/prepare_data.py`")
    step = max(1, len(files) // count)
    chosen = files[::step][:count]
    data = [list(Image.open(f).convert("L").tobytes()) for f in chosen]
    return {"data": data}, [f.parent.name for f in chosen]


@endpoint_app.command()
def keys(
    name: Annotated[str, typer.Argument(help="endpoint name")], stack: StackOption = None
) -> None:
    """Print the endpoint's scoring URI and its primary and secondary keys."""
    out = endpoint_outputs(name, stack)
    console.print(f"scoring uri   {out['scoring_uri']}")
    console.print(f"primary key   {out['primary_key']}")
    console.print(f"secondary key {out['secondary_key']}")


@endpoint_app.command()
def invoke(
    name: Annotated[str, typer.Argument(help="endpoint name")],
    *,
    file: Annotated[Path | None, typer.Option(help="request JSON in Azure ML's shape")] = None,
    images: Annotated[Path | None, typer.Option(help="folder of <label>/<image>.png")] = None,
    count: Annotated[int, typer.Option(help="how many images with --images")] = 8,
    deployment: Annotated[str | None, typer.Option(help="pin one deployment")] = None,
    stack: StackOption = None,
) -> None:
    """Send a request to the endpoint (with its key) and print what it answers."""
    if (file is None) == (images is None):
        raise MlstackError("give exactly one of --file REQUEST.json or --images FOLDER")
    labels: list[str] = []
    if file is not None:
        try:
            body: dict[str, Any] = json.loads(file.read_text())
        except (OSError, ValueError) as error:
            raise MlstackError(f"{file}: not a readable JSON request ({error})") from None
    else:
        assert images is not None
        body, labels = image_request(images, count)
    out = endpoint_outputs(name, stack)
    headers = {"Authorization": f"Bearer {out['primary_key']}"}
    if deployment:
        headers[DEPLOYMENT_HEADER] = deployment
    try:
        response = httpx.post(out["scoring_uri"], json=body, headers=headers, timeout=60)
    except httpx.HTTPError as error:
        raise MlstackError(f"endpoint {name} did not answer ({error}): run `pulumi up`") from None
    served = response.headers.get(DEPLOYMENT_HEADER, "?")
    if response.status_code != 200:
        raise MlstackError(f"endpoint {name} answered {response.status_code}: {response.text}")
    answer = response.json()
    if not labels:
        print(json.dumps(answer, indent=2))
        return
    table = Table(title=f"{name} (deployment {served})")
    for column in ("image", "true label", "prediction", "confidence"):
        table.add_column(column)
    for i, (label, predicted) in enumerate(zip(labels, answer["predictions"], strict=True)):
        confidence = max(answer["probabilities"][i])
        mark = "" if str(predicted) == label else "  ✗"
        table.add_row(str(i + 1), label, f"{predicted}{mark}", f"{confidence:.3f}")
    console.print(table)
    right = sum(str(p) == label for p, label in zip(answer["predictions"], labels, strict=True))
    console.print(f"{right}/{len(labels)} correct")
