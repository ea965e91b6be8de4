"""The configurations packaged with molprior: YAML presets chosen by name (``--config
fsmol_adkf``), each the settings of a documented run.  Every command that takes ``--config``
reads either a file of the user's or one of these."""

from __future__ import annotations

from pathlib import Path

from molprior.errors import MissingError

PRESETS_DIR = Path(__file__).resolve().parent
#: Where the presets lived before they were packaged: run records and model cards name them so.
LEGACY_DIR = Path("pipelines") / "configs"


def presets() -> list[str]:
    """The names of the packaged presets."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def config_path(value: str | Path) -> Path:
    """The configuration file ``value`` names: an existing file, else a packaged preset by
    name (``metatrain`` or ``metatrain.yaml``; the old ``pipelines/configs/metatrain.yaml``
    is that preset too).  Neither is a :class:`MissingError` that lists the presets."""
    path = Path(value)
    if path.is_file():
        return path
    bare = path.parent in (Path("."), LEGACY_DIR) and path.suffix in ("", ".yaml", ".yml")
    preset = PRESETS_DIR / f"{path.stem}.yaml"
    if bare and preset.is_file():
        return preset
    raise MissingError(f"no such configuration file or preset: {value} (presets: {', '.join(presets())})")
