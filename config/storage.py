"""Static files for production: hashed names and compressed copies (WhiteNoise)."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's storage, minus the rewriting of source-map comments.

    The vendored libraries name source maps (chart.umd.min.js.map, ...) that their
    packages do not ship; Django would stop collectstatic on each missing one. Without
    the map a browser's debugger shows the minified file, which is all we serve anyway.
    """

    patterns = tuple(
        (glob, tuple(p for p in rules if "sourceMappingURL" not in p[0]))
        for glob, rules in CompressedManifestStaticFilesStorage.patterns
    )
