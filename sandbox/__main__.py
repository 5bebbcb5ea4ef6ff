"""`python -m sandbox run FILE.py [...]` runs one file; `python -m sandbox build-image`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a Python file in the sandbox")
    run.add_argument("file", type=Path)
    run.add_argument(
        "--backend",
        choices=["auto", "docker", "bwrap"],
        default=os.environ.get("SANDBOX_BACKEND", "auto"),
    )
    run.add_argument("--timeout", type=float, help="wall-clock limit in seconds (default 20)")
    run.add_argument("--memory", type=int, help="memory limit in MB (default 1024)")
    run.add_argument(
        "--gpus", default=os.environ.get("SANDBOX_GPUS", "none"), help="none, all or ids like 0,1"
    )
    run.add_argument("--image", default=None, help="Docker image (default: the recipe's tag)")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    build = commands.add_parser("build-image", help="build the sandbox image (make sandbox-image)")
    build.add_argument(
        "--torch",
        choices=["cpu", "cuda"],
        default="cpu",
        help="which build of the same torch version: cpu, or cuda for GPU hosts (own tag)",
    )
    commands.add_parser("status", help="print which backend would run jobs, as JSON")
    args = parser.parse_args(argv)

    if args.command == "build-image":
        from sandbox.image import build_image

        print(build_image(torch=args.torch))
        return 0
    if args.command == "status":
        from sandbox.backends import backend_status

        print(json.dumps(backend_status(os.environ.get("SANDBOX_BACKEND", "auto")), indent=2))
        return 0

    from sandbox import Job, Limits, SandboxUnavailable
    from sandbox import run as sandbox_run

    overrides: dict[str, object] = {"gpus": args.gpus}
    if args.timeout is not None:
        overrides["wall_s"] = args.timeout
    if args.memory is not None:
        overrides["memory_mb"] = args.memory
    job = Job(files={"main.py": args.file.read_bytes()}, command=["python", "main.py"])
    try:
        result = sandbox_run(job, Limits(**overrides), backend=args.backend, image=args.image)
    except SandboxUnavailable as exc:
        print(f"sandbox unavailable: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        sys.stdout.write(result.stdout.decode("utf-8", "replace"))
        sys.stderr.write(result.stderr.decode("utf-8", "replace"))
        tail = f"[{result.status} exit={result.exit_code} signal={result.signal} "
        tail += f"wall={result.wall_s:.2f}s backend={result.backend} image={result.image}]"
        if result.detail:
            tail += f" {result.detail}"
        print(tail, file=sys.stderr)
    return 0 if result.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
