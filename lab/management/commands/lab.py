"""`manage.py lab EXERCISE FILE [--depths 20,56] [--steps N] [--seed S] [--json]`."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from lab import services


class Command(BaseCommand):
    help = "Run the lab on a block file in the sandbox and print its curves."

    def add_arguments(self, parser) -> None:  # noqa: ANN001 - Django's parser
        parser.add_argument("exercise", choices=sorted(services.BLOCKS))
        parser.add_argument("file")
        parser.add_argument("--depths", default="", help="layers, 6n+2 each, e.g. 20,56")
        parser.add_argument("--steps", type=int)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: object, **opts: object) -> None:
        config = {**services.lab_defaults(), "seed": opts["seed"]}
        if opts["depths"]:
            layers = [int(d) for d in str(opts["depths"]).split(",")]
            if any(d < 8 or (d - 2) % 6 for d in layers):
                raise CommandError("each depth must be 6n+2 layers with n >= 1: 8, 14, 20, ...")
            config["ns"] = [(d - 2) // 6 for d in layers]
        if opts["steps"]:
            config["steps"] = int(opts["steps"])
        code = Path(str(opts["file"])).read_text()
        result, problem, wall = services.lab_execute(
            code=code,
            exercise=str(opts["exercise"]),
            settings_=config,
            backend=settings.SANDBOX_BACKEND,
            image=settings.SANDBOX_IMAGE or None,
        )
        if result is None:
            raise CommandError(problem)
        found = services.findings(result)
        if opts["json"]:
            self.stdout.write(json.dumps({"result": result, "findings": found, "wall_s": wall}))
            return
        for net in result["networks"]:
            loss = net["train_loss"][-1] if net["train_loss"] else None
            self.stdout.write(
                f"{net['kind']:>8} {net['layers']:>3} layers: final loss {loss}, "
                f"test error {net['test_error']}, {net['seconds']} s {net['error']}"
            )
        self.stdout.write(f"findings: {found}; wall {wall:.1f} s")
