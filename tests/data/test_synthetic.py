import time

import numpy as np
import pytest
import torch

from monai_landmarks.data import error_protocol, load_datalist, read_metadata
from monai_landmarks.data import synthetic as syn
from monai_landmarks.data.image_reader import read_image
from monai_landmarks.data.phantoms import KINDS
from monai_landmarks.data.phantoms.head import head_anatomy
from monai_landmarks.data.synthetic import (
    DEFAULT_SIZES,
    PHANTOM_KINDS,
    generate_phantom_dataset,
    landmark_names,
    render_phantom,
)
from monai_landmarks.metrics import ErrorProtocol
from monai_landmarks.utils.coords import from_stride, inside_image

COUNTS = {"head": 19, "hand": 37, "spine": 68, "chest": 166}
# Sizes for the structure tests: half the default, so a 3 mm neighbourhood is still 1-2 pixels.
HALF = {"head": (96, 120), "hand": (80, 100),
        "spine": (80, 216), "chest": (128, 128)}  # fmt: skip
# Landmarks that are centroids of a drawn bone (the sella's cup; carpal bones) rather than an edge, corner or tip.
CENTROIDS = {"head": {"sella"}, "hand": {"triquetrum", "pisiform", "lunate", "scaphoid waist", "hamate",
                                        "capitate", "trapezoid", "trapezium"},
             "spine": set(), "chest": set()}  # fmt: skip


def _rng(seed):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("kind", PHANTOM_KINDS)
def test_image_landmarks_and_names(kind):
    image, points = render_phantom(kind, _rng(0), (48, 60))
    assert image.shape == (48, 60) and image.dtype == np.float32
    assert 0.0 <= image.min() < image.max() <= 1.0
    assert points.shape == (COUNTS[kind], 2) and points.dtype == np.float32
    names = landmark_names(kind)
    assert len(names) == COUNTS[kind] == len(set(names))
    default_image, _ = render_phantom(kind, _rng(0))
    assert default_image.shape == DEFAULT_SIZES[kind]


def test_head_names_follow_isbi_2015_and_hand_wrist_pair():
    head, hand = landmark_names("head"), landmark_names("hand")
    assert head[:4] == ("sella", "nasion", "orbitale", "porion") and head[-1] == "articulare"
    assert hand[syn.WRIST_PAIR[0]] == "ulnar styloid tip" and hand[syn.WRIST_PAIR[1]] == "radial styloid tip"
    assert hand[13:18] == ("little cmc", "ring cmc", "middle cmc", "index cmc", "thumb cmc")
    assert hand[-1] == "little tip"


@pytest.mark.parametrize("kind", PHANTOM_KINDS)
@pytest.mark.parametrize("size", [(16, 16), (32, 64), (64, 40), (60, 60)])
def test_landmarks_inside_the_image_at_any_size_and_aspect(kind, size):
    for seed in range(6):
        image, points = render_phantom(kind, _rng(seed), size)
        assert image.shape == size
        assert inside_image(points, size).all()


@pytest.mark.parametrize("kind", PHANTOM_KINDS)
def test_deterministic_by_seed(kind):
    a, b, c = (render_phantom(kind, _rng(s), (48, 60)) for s in (7, 7, 8))
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[1], c[1])
    seeded = render_phantom(kind, 7, (48, 60))  # an int seed is the same as default_rng(seed)
    assert seeded[0].tobytes() == a[0].tobytes()


@pytest.mark.parametrize("kind", PHANTOM_KINDS)
def test_noise_off_keeps_the_same_phantom(kind):
    noisy, p = render_phantom(kind, _rng(3), (48, 60))
    clean, q = render_phantom(kind, _rng(3), (48, 60), noise=False)
    assert np.array_equal(p, q)
    assert 0 < np.abs(noisy - clean).mean() < 0.05


def _align(reference, points):
    """Similarity (Procrustes) alignment of ``points`` onto ``reference``: removes pose, keeps shape."""
    ma, mb = reference.mean(0), points.mean(0)
    a, b = reference - ma, points - mb
    u, s, vt = np.linalg.svd(b.T @ a)
    return b @ (u @ vt) * (s.sum() / (b**2).sum()) + ma


@pytest.mark.parametrize("kind", PHANTOM_KINDS)
def test_shape_varies_across_seeds(kind):
    shapes = [render_phantom(kind, _rng(s))[1].astype(np.float64) for s in range(5)]
    pairs = [(a, b) for i, a in enumerate(shapes) for b in shapes[:i]]
    moved = np.mean([np.linalg.norm(a - b, axis=1).mean() for a, b in pairs])
    reshaped = np.mean([np.linalg.norm(a - _align(a, b), axis=1).mean() for a, b in pairs])
    assert moved > 5.0, moved  # pixels at the default size
    assert reshaped > 1.5, reshaped  # not only pose: proportions differ after a similarity alignment


def _contrast(image, points, radii):
    """Max - min intensity in a square of the given radius (pixels) around each point."""
    out = []
    for (x, y), r in zip(np.floor(points + 0.5).astype(int), radii, strict=True):
        window = image[max(x - r, 0) : x + r + 1, max(y - r, 0) : y + r + 1]
        out.append(window.max() - window.min())
    return np.array(out)


@pytest.mark.parametrize("kind", PHANTOM_KINDS)
def test_landmarks_lie_on_drawn_structure(kind):
    """Without noise, an edge of the drawing lies within 3 mm of every landmark (8 mm for bone centroids).

    The same check on random points fails for most of them, so it would catch landmarks that are not tied
    to what is drawn.
    """
    size = HALF[kind]
    field = KINDS[kind].field_mm
    mm = min(size[0] / field[0], size[1] / field[1])  # pixels per mm
    radii = [max(1, round((8 if n in CENTROIDS[kind] else 3) * mm)) for n in landmark_names(kind)]
    random_pass = []
    for seed in range(6):
        image, points = render_phantom(kind, _rng(seed), size, noise=False)
        contrast = _contrast(image, points, radii)
        assert contrast.min() > 0.06, (seed, landmark_names(kind)[int(contrast.argmin())], contrast.min())
        random_points = _rng(100 + seed).uniform(0, np.array(size) - 1, points.shape)
        random_pass.append(_contrast(image, random_points, radii) > 0.06)
    assert np.mean(random_pass) < 0.6  # the check has teeth: random points mostly fail it


@pytest.mark.parametrize("kind", PHANTOM_KINDS)
def test_a_landmark_looks_alike_across_phantoms(kind):
    """Noisy patches around one landmark in two different phantoms correlate; around random points they do not."""
    size, r = HALF[kind], 4

    def correlations(image_a, points_a, image_b, points_b):
        scores = []
        for (xa, ya), (xb, yb) in zip(
            np.floor(points_a + 0.5).astype(int), np.floor(points_b + 0.5).astype(int), strict=True
        ):
            a, b = image_a[xa - r : xa + r + 1, ya - r : ya + r + 1], image_b[xb - r : xb + r + 1, yb - r : yb + r + 1]
            if a.shape == b.shape == (2 * r + 1, 2 * r + 1) and a.std() > 1e-3 and b.std() > 1e-3:
                scores.append(np.corrcoef(a.ravel(), b.ravel())[0, 1])
        return scores

    tied, untied = [], []
    for seed in (0, 2, 4):
        (ia, pa), (ib, pb) = render_phantom(kind, _rng(seed), size), render_phantom(kind, _rng(seed + 1), size)
        tied += correlations(ia, pa, ib, pb)
        ra, rb = _rng(50 + seed).uniform(r, np.array(size) - r - 1, (2, *pa.shape))
        untied += correlations(ia, ra, ib, rb)
    assert np.mean(tied) > 0.5, np.mean(tied)
    assert np.mean(tied) > np.mean(untied) + 0.4, (np.mean(tied), np.mean(untied))


def _point_line_distance(p, origin, direction):
    d = direction / np.linalg.norm(direction)
    v = p - origin
    return abs(v[0] * d[1] - v[1] * d[0])


def test_head_landmarks_follow_their_geometric_definitions():
    for seed in range(15):
        h = head_anatomy(_rng(seed))
        c, t, m = h.cranium, h.teeth, h.mandible
        for point in (m.pog, m.gn, m.me):  # on the chin's arc
            assert np.linalg.norm(point - m.chin) == pytest.approx(m.chin_radius)
        assert m.pog[0] == pytest.approx(m.chin[0] + m.chin_radius)
        assert m.me[1] == pytest.approx(m.chin[1] + m.chin_radius)
        # B point is behind the line infradentale - pogonion, A point behind ANS - prosthion
        for deep, top, bottom in ((m.b, t.infradentale, m.pog), (t.a, c.ans, t.prosthion)):
            along = (deep[1] - top[1]) / (bottom[1] - top[1])
            assert deep[0] < top[0] + along * (bottom[0] - top[0])
        # articulare: on the ramus' posterior border and on the clivus' lower edge
        if h.valid:
            assert _point_line_distance(m.ar, m.gonial_corner, m.ramus_dir) < 1e-9
            assert _point_line_distance(m.ar, h.clivus.start, h.clivus.dir) == pytest.approx(h.clivus.radius)
        # gonion: on the bisector of the gonial angle
        v = m.go - m.gonial_corner
        assert np.dot(v, m.ramus_dir) == pytest.approx(np.dot(v, m.mp_dir))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: render_phantom("knee", _rng(0)), ValueError, r"valid kinds: \('head', 'hand', 'spine', 'chest'\)"),
        (lambda: landmark_names("knee"), ValueError, "valid kinds"),
        (lambda: render_phantom("head", _rng(0), (8, 8)), ValueError, "at least 16"),
        (lambda: render_phantom("head", _rng(0), (32, 32, 32)), ValueError, r"\(W, H\)"),
        (lambda: render_phantom("head", "seed"), TypeError, "Generator"),
        (lambda: generate_phantom_dataset("/nonexistent/x", "hand", num_train=-1), ValueError, "num_train"),
        (lambda: generate_phantom_dataset("/nonexistent/x", "knee"), ValueError, "valid kinds"),
    ],
)
def test_bad_arguments_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_head_dataset_round_trip(tmp_path):
    size = (48, 60)
    root = generate_phantom_dataset(tmp_path / "head", "head", num_train=2, num_val=1, num_test=1, size=size, seed=5)
    meta = read_metadata(root)
    assert meta["num_landmarks"] == 19 and meta["landmark_names"] == list(landmark_names("head"))
    assert meta["synthetic"] is True and meta["kind"] == "head" and meta["seed"] == 5
    assert meta["generator_version"] == syn.GENERATOR_VERSION
    assert meta["pixel_spacing_mm"] == pytest.approx(4.0)  # a 192 x 240 mm field on 48 x 60 pixels
    items = load_datalist(root)
    assert [i["split"] for i in items] == ["train", "train", "val", "test"]
    for index, item in enumerate(items):
        image, points = render_phantom("head", np.random.default_rng([5, index]), size)
        stored, _ = read_image(item["image"])
        assert np.array_equal(stored, np.rint(image * 255))  # 8-bit, (W, H), lossless
        assert np.allclose(np.asarray(item["landmarks"])[0], points, atol=1e-3)  # the CSV keeps 4 decimals
        assert np.allclose(np.asarray(item["spacing"], dtype=np.float64), [4.0, 4.0])
    assert error_protocol(root) == ErrorProtocol("mm")


def test_hand_dataset_records_the_wrist_normalisation(tmp_path):
    root = generate_phantom_dataset(tmp_path / "hand", "hand", num_train=1, num_val=0, num_test=1, size=(40, 50))
    meta = read_metadata(root)
    assert meta.get("pixel_spacing_mm") is None
    assert meta["wrist_normalisation"] == {"pair": [0, 4], "width_mm": 50.0}
    assert meta["wrist_pair"] == [0, 4] and meta["wrist_width_mm"] == 50.0
    assert error_protocol(root) == ErrorProtocol("wrist", wrist_pair=(0, 4), wrist_width_mm=50.0)
    assert [i["split"] for i in load_datalist(root)] == ["train", "test"]


@pytest.mark.parametrize("kind", PHANTOM_KINDS)
def test_render_speed(benchmark, kind):
    """Timed with ``pytest --benchmark-enable``; a plain run renders once and checks the result."""
    rng = _rng(0)
    image, points = benchmark(render_phantom, kind, rng)
    assert image.shape == DEFAULT_SIZES[kind] and points.shape == (COUNTS[kind], 2)


class _TinyUNet(torch.nn.Module):
    """Two poolings down, one up: heatmaps at stride 2, decoded by a soft-argmax."""

    def __init__(self, num_landmarks: int) -> None:
        super().__init__()

        def block(i, o):
            conv = torch.nn.Conv2d
            return torch.nn.Sequential(conv(i, o, 3, padding=1), torch.nn.BatchNorm2d(o), torch.nn.ReLU(),
                                       conv(o, o, 3, padding=1), torch.nn.BatchNorm2d(o), torch.nn.ReLU())  # fmt: skip

        self.e1, self.e2, self.e3, self.d2 = block(1, 16), block(16, 32), block(32, 64), block(96, 32)
        self.head = torch.nn.Conv2d(32, num_landmarks, 1)

    def forward(self, x):
        pool = torch.nn.functional.max_pool2d
        a = self.e1(x)
        b = self.e2(pool(a, 2))
        c = self.e3(pool(b, 2))
        heatmaps = self.head(self.d2(torch.cat([b, torch.nn.functional.interpolate(c, scale_factor=2)], 1)))
        p = heatmaps.flatten(2).softmax(-1).view_as(heatmaps)  # (B, K, W/2, H/2)
        x = (p.sum(3) * torch.arange(p.shape[2])).sum(-1)
        y = (p.sum(2) * torch.arange(p.shape[3])).sum(-1)
        return from_stride(torch.stack([x, y], -1), 2)


@pytest.mark.slow
@pytest.mark.parametrize("kind, steps", [("head", 400), ("hand", 300)])
def test_phantoms_are_learnable(kind, steps):
    """A tiny CNN trained for about a minute (one CPU thread) on 64 phantoms beats the mean shape on 32 others."""
    torch.manual_seed(0)
    size = (64, 80)

    def data(indices):
        images, points = zip(*(render_phantom(kind, np.random.default_rng([7, i]), size) for i in indices), strict=True)
        return torch.as_tensor(np.stack(images))[:, None], torch.as_tensor(np.stack(points))

    x_train, y_train = data(range(64))
    x_test, y_test = data(range(1000, 1032))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a shared CPU, more threads than free cores is several times slower
    try:
        model, baseline, seconds = _train_and_evaluate(x_train, y_train, x_test, y_test, steps)
    finally:
        torch.set_num_threads(threads)
    print(f"{kind}: model MRE {model:.2f} px, mean shape {baseline:.2f} px, {seconds:.0f} s")
    assert model < 0.6 * baseline, (model, baseline)


def _train_and_evaluate(x_train, y_train, x_test, y_test, steps: int) -> tuple[float, float, float]:
    net = _TinyUNet(y_train.shape[1])
    optimiser = torch.optim.Adam(net.parameters(), 3e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 3e-3, total_steps=steps)
    batches = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        index = torch.randint(0, len(x_train), (16,), generator=batches)
        loss = (net(x_train[index]) - y_train[index]).norm(dim=-1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    net.eval()
    with torch.no_grad():
        model = (net(x_test) - y_test).norm(dim=-1).mean().item()
    baseline = (y_train.mean(0) - y_test).norm(dim=-1).mean().item()
    return model, baseline, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------- spine and chest
# Orientation of each chest contour on screen (x right, y down): the shoelace sum is negative anticlockwise.
# Measured on the mean shape of ../shared/datasets/jsrt_chest (and checked against it below when present).
CHEST_TURN = {"right lung": -1, "left lung": 1, "heart": 1, "right clavicle": 1, "left clavicle": -1}


def _shoelace(p):
    return 0.5 * float(np.sum(p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1]))


def _self_crossings(p) -> int:
    """Pairs of non-adjacent edges of the closed polygon ``p`` that cross."""
    a, b = p, np.roll(p, -1, axis=0)

    def side(o, q, r):
        cross = (q[..., 0] - o[..., 0]) * (r[..., 1] - o[..., 1]) - (q[..., 1] - o[..., 1]) * (r[..., 0] - o[..., 0])
        return np.sign(cross)

    n, crossings = len(p), 0
    for i in range(n):
        j = np.arange(i + 2, n if i else n - 1)
        crossings += int(((side(a[i], b[i], a[j]) != side(a[i], b[i], b[j]))
                          & (side(a[j], b[j], a[i]) != side(a[j], b[j], b[i]))).sum())  # fmt: skip
    return crossings


def _chest_contours(points):
    from monai_landmarks.data.phantoms.chest import LANDMARK_GROUPS

    return {name: points[a:b].astype(np.float64) for name, (a, b) in LANDMARK_GROUPS.items()}


def test_spine_corners_are_tl_tr_bl_br_per_vertebra():
    from monai_landmarks.data.phantoms.spine import corner_order_ok

    names = landmark_names("spine")
    assert names[:4] == ("T1 top-left", "T1 top-right", "T1 bottom-left", "T1 bottom-right")
    assert names[-1] == "L5 bottom-right"
    for seed in range(8):
        image, points = render_phantom("spine", _rng(seed))
        q = points.reshape(17, 4, 2)
        assert corner_order_ok(points), seed
        # vertebrae run top to bottom: each body's top lies below the previous body's bottom
        assert (q[1:, :2, 1].mean(1) > q[:-1, 2:, 1].mean(1)).all(), seed
        assert inside_image(points, image.shape).all()
    swapped = points.reshape(17, 4, 2)[:, [1, 0, 2, 3]].reshape(-1, 2)  # a TL/TR swap is caught
    assert not corner_order_ok(swapped)


def test_spine_curves_differ_and_tilt_like_scoliosis():
    """Endplate tilts (degrees) of the bodies along each spine: their range is a Cobb-like angle, and it varies."""
    cobb = []
    for seed in range(12):
        q = render_phantom("spine", _rng(seed), noise=False)[1].reshape(17, 4, 2).astype(np.float64)
        top = q[:, 1] - q[:, 0]
        tilt = np.rad2deg(np.arctan2(top[:, 1], top[:, 0]))
        cobb.append(tilt.max() - tilt.min())
    assert 5 < np.median(cobb) < 45 and max(cobb) - min(cobb) > 10, cobb


def test_chest_contours_are_ordered_closed_curves():
    names = landmark_names("chest")
    assert names[0] == "right lung 0" and names[44] == "left lung 0" and names[94] == "heart 0"
    assert names[120] == "right clavicle 0" and names[143] == "left clavicle 0" and names[-1] == "left clavicle 22"
    for seed in range(6):
        _, points = render_phantom("chest", _rng(seed))
        contours = _chest_contours(points)
        assert [len(c) for c in contours.values()] == [44, 50, 26, 23, 23]
        for name, c in contours.items():
            steps = np.linalg.norm(np.roll(c, -1, axis=0) - c, axis=1)
            assert steps.max() < 1.6 * steps.min() + 0.5, (seed, name)  # equal arc lengths, consecutive order
            assert _self_crossings(c) == 0, (seed, name)
            assert np.sign(_shoelace(c)) == CHEST_TURN[name], (seed, name)
        for lung in ("right lung", "left lung"):  # each lung starts at its apex
            c = contours[lung]
            assert c[0, 1] - c[:, 1].min() < 2.0, (seed, lung)
        assert contours["right lung"][:, 0].mean() < contours["left lung"][:, 0].mean()  # PA: right lung on the left
    shuffled = contours["heart"][_rng(0).permutation(26)]
    assert _self_crossings(shuffled) > 0  # the ordering checks have teeth


@pytest.mark.datasets
def test_chest_and_spine_follow_the_real_datasets():
    from monai_landmarks.data.phantoms import chest
    from tests.conftest import dataset_path

    jsrt, aasce = read_metadata(dataset_path("jsrt_chest")), read_metadata(dataset_path("aasce_spine"))
    assert tuple(jsrt["landmark_names"]) == landmark_names("chest")
    assert {k: tuple(v) for k, v in jsrt["landmark_groups"].items()} == chest.LANDMARK_GROUPS
    assert tuple(aasce["landmark_names"]) == landmark_names("spine")
    items = load_datalist(dataset_path("jsrt_chest"), split="train")
    mean = np.nanmean(np.stack([np.asarray(i["landmarks"])[0] for i in items]), axis=0)
    for name, c in _chest_contours(mean).items():  # the contour directions the phantoms copy
        assert np.sign(_shoelace(c)) == CHEST_TURN[name], name


def _dataset_bytes(root):
    return {p.name: p.read_bytes() for p in sorted((root / "images").iterdir())} | {
        "landmarks.csv": (root / "landmarks.csv").read_bytes()
    }


def test_spine_dataset_is_jpeg_of_varied_sizes_and_deterministic(tmp_path):
    from PIL import Image

    def make(name, seed):
        return generate_phantom_dataset(tmp_path / name, "spine", 4, 1, 1, size=(64, 172), seed=seed)

    root = make("a", 3)
    meta = read_metadata(root)
    assert meta["num_landmarks"] == 68 and meta.get("pixel_spacing_mm") is None and error_protocol(root).unit == "px"
    sizes = set()
    for index, item in enumerate(load_datalist(root)):
        assert item["image"].endswith(".jpg")
        with Image.open(item["image"]) as img:
            assert img.format == "JPEG" and img.mode == "L"
            w, h = img.size
        sizes.add((w, h))
        assert 0.25 < w / h < 0.5 and 140 <= h <= 200
        image, points = render_phantom("spine", np.random.default_rng([3, index]), (w, h))
        stored, _ = read_image(item["image"])
        assert stored.shape == (w, h) and np.abs(stored - np.rint(image * 255)).mean() < 4  # JPEG: close, lossy
        assert np.allclose(np.asarray(item["landmarks"])[0], points, atol=1e-3)
        assert inside_image(points, (w, h)).all()
    assert len(sizes) == 6  # every image its own size
    assert {tuple(s) for s in meta["stored_size_wh"].values()} == sizes  # recorded per image
    assert _dataset_bytes(make("b", 3)) == _dataset_bytes(root)  # same seed, same files byte for byte
    assert _dataset_bytes(make("c", 4)) != _dataset_bytes(root)


def test_chest_dataset_records_spacing_and_groups(tmp_path):
    root = generate_phantom_dataset(tmp_path / "chest", "chest", 1, 1, 1, size=(128, 128), seed=2)
    meta = read_metadata(root)
    assert meta["pixel_spacing_mm"] == pytest.approx(2.8)  # JSRT's 0.7 mm at 512, on a 128 x 128 film
    assert meta["landmark_groups"]["heart"] == [94, 120] and meta["num_landmarks"] == 166
    assert error_protocol(root) == ErrorProtocol("mm")
    items = load_datalist(root)
    assert items[0]["image"].endswith(".png")
    image, points = render_phantom("chest", np.random.default_rng([2, 0]), (128, 128))
    assert np.array_equal(read_image(items[0]["image"])[0], np.rint(image * 255))


class _Disc:
    """A one-landmark anatomy: a bone disc whose centre is the landmark."""

    valid = True

    def __init__(self, rng):
        self.centre = rng.uniform(40, 60, 2)

    def landmarks(self):
        return self.centre[None]

    def draw(self, film):
        film.ellipse(self.centre, (10.0, 10.0), density=0.8)


def test_a_new_anatomy_is_one_registered_kind(monkeypatch, tmp_path):
    from monai_landmarks.data.phantoms import KINDS, PhantomKind
    from monai_landmarks.data.phantoms.geometry import PoseSpread

    disc = PhantomKind("disc", ("centre",), (100.0, 100.0), (32, 32), _Disc, PoseSpread((0.9, 1.1), 5.0, 2.0))
    monkeypatch.setitem(KINDS, "disc", disc)
    image, points = render_phantom("disc", 0)
    assert image.shape == (32, 32) and points.shape == (1, 2)
    x, y = (int(round(v)) for v in points[0])
    assert image[x, y] > image[0, 0] + 0.2  # the landmark sits on the drawn bone
    root = generate_phantom_dataset(tmp_path / "disc", "disc", 2, 0, 1)
    assert (root / "images" / "disc0002.png").is_file()
    assert "centre" in (root / "dataset.json").read_text()
