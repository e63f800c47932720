"""mkdocs hook: the command-line page shows the parser's own ``--help`` text, so it cannot drift."""
from __future__ import annotations

import argparse
import os

MARKER = "<!-- sonobridge-cli-help -->"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps sub-parsers on this action only
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help_sections() -> str:
    from sonobridge.cli import build_parser

    os.environ.setdefault("COLUMNS", "100")
    parser = build_parser()
    sections = ["## sonobridge", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, command in _subcommands(parser).items():
        sections += [f"## sonobridge {name}", "", "```text", command.format_help().rstrip(), "```", ""]
    return "\n".join(sections)


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace the marker on the CLI page with every command's help."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, _help_sections())
