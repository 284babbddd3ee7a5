"""The phantoms are pinned byte for byte: the bundles' cached datasets, the run fingerprint's data digest and the
shipped sample_images come from them, so a change to what is drawn must be deliberate (and bump
``GENERATOR_VERSION`` and these digests together).

The digests were computed with the phantoms as they were before they moved into ``data/phantoms/`` (one module
per anatomy). They hash the float32 renders and the dataset's text files, not the encoded images, whose bytes
depend on the PNG / JPEG library rather than on this package.
"""

import hashlib

import pytest

from monai_landmarks.data.phantoms import GENERATOR_VERSION
from monai_landmarks.data.synthetic import generate_phantom_dataset, render_phantom

# kind: (sha256 of the renders (image, landmarks) of seed 0 at the default size and seed 5 at 48 x 60,
#        sha256 of dataset.json and landmarks.csv of a three-image dataset of seed 3)
DIGESTS = {
    "head": ("f58e52cd57de2f1a80bd7f70e53500e4df3a7beda1715de47c4cc4b58d6a793e",
             "87d6cd600ec7f423e0cdcbbc0b5c0c0601d139facf15f64e2e78e789f8efd947"),
    "hand": ("2a5fc2d6ec0a3564cb42fe13c0f7e14b30fb615489901b4706071d47429cf410",
             "fec549870c5d1748c7a3627525bcc944c19f9c8b9e2aa995d9b1f4bdc96fc174"),
    "spine": ("86061ab40ba746dcb23343652c1bf12f6de30f27b28769de05b15117e0325db2",
              "f7f6898f3723db8233df487f048007d0cafa597035a66360c0367fb45738e2ca"),
    "chest": ("b4468ee7ac66ee0c31bf742be5ab6e19db942ef98ea7c55a6947c011ba448ee1",
              "682e6a0b17f1e9033cda0da3eea6f09d1a71b7b05174fa81961851cc3ad4228e"),
}  # fmt: skip
DATASET_SIZE = {"head": (48, 60), "hand": (48, 60), "spine": (40, 108), "chest": (48, 60)}


def test_the_digests_belong_to_this_generator_version():
    assert GENERATOR_VERSION == 2  # a new version redraws cached datasets: recompute DIGESTS with it


@pytest.mark.parametrize("kind", DIGESTS)
def test_renders_are_byte_identical(kind):
    digest = hashlib.sha256()
    for seed, size in ((0, None), (5, (48, 60))):
        image, points = render_phantom(kind, seed, size)
        digest.update(image.tobytes())
        digest.update(points.tobytes())
    assert digest.hexdigest() == DIGESTS[kind][0]


@pytest.mark.parametrize("kind", DIGESTS)
def test_dataset_files_are_byte_identical(kind, tmp_path):
    root = generate_phantom_dataset(tmp_path / kind, kind, 1, 1, 1, size=DATASET_SIZE[kind], seed=3)
    digest = hashlib.sha256()
    for name in ("dataset.json", "landmarks.csv"):
        digest.update((root / name).read_bytes())
    assert digest.hexdigest() == DIGESTS[kind][1]
