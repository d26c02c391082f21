"""Turn what a user names (files, folders, zips, .gz) into the plain files readers take."""

from __future__ import annotations

import gzip
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vru.sources.base import SourceError


@dataclass(frozen=True)
class InputFile:
    """A file to read: ``path`` on disk, ``name`` as the user knows it (zip!member)."""

    name: str
    path: Path


def expand(paths: list[str | Path], workdir: Path, suffixes: tuple[str, ...] = (".csv",)
           ) -> list[InputFile]:
    """Expand folders (recursively), zips and gzip files into readable files.

    Zip members and .gz files are extracted into ``workdir`` (the caller deletes it).
    Raises `SourceError` for a path that does not exist, a zip that is not one or holds
    nothing readable, and a folder with no readable file.
    """
    out: list[InputFile] = []
    for p in map(Path, paths):
        if not p.exists():
            raise SourceError(p, "no such file or folder")
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and _wanted(f, suffixes))
            if not found:
                raise SourceError(p, f"the folder holds no {'/'.join(suffixes)} files "
                                  "(or .zip/.gz of them)")
            for f in found:
                out.extend(expand([f], workdir, suffixes))
        elif p.suffix.lower() == ".zip":
            out.extend(_unzip(p, workdir, suffixes))
        elif p.suffix.lower() == ".gz":
            dest = _fresh(workdir, p.stem)
            try:
                with gzip.open(p, "rb") as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (OSError, EOFError) as e:
                raise SourceError(p, f"not a readable gzip file ({e})") from None
            out.append(InputFile(str(p), dest))
        else:
            out.append(InputFile(str(p), p))
    return out


def _wanted(f: Path, suffixes: tuple[str, ...]) -> bool:
    name = f.name.lower()
    return name.endswith(suffixes) or name.endswith(".zip") or any(
        name.endswith(s + ".gz") for s in suffixes)


def _fresh(workdir: Path, name: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    i = 0
    while (workdir / f"{i}-{name}").exists():
        i += 1
    return workdir / f"{i}-{name}"


def _unzip(p: Path, workdir: Path, suffixes: tuple[str, ...]) -> list[InputFile]:
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile:
        raise SourceError(p, "not a valid zip file") from None
    with zf:
        members = [m for m in zf.infolist()
                   if not m.is_dir() and m.filename.lower().endswith(suffixes)
                   and not Path(m.filename).name.startswith(".")]
        if not members:
            names = ", ".join(m.filename for m in zf.infolist()[:5]) or "nothing"
            raise SourceError(p, f"the zip holds no {'/'.join(suffixes)} files (it holds: "
                              f"{names}); give the data.police.uk download zip")
        out = []
        for m in sorted(members, key=lambda m: m.filename):
            dest = _fresh(workdir, Path(m.filename).name)
            try:
                with zf.open(m) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise SourceError(f"{p}!{m.filename}", f"cannot be extracted ({e})") from None
            out.append(InputFile(f"{p}!{m.filename}", dest))
    return out
