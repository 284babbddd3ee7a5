"""Published figures the report quotes beside ours, as records: quoted as published (``../shared/REFERENCE.md``
section 4), never measured here."""

from __future__ import annotations

# the timing of the original GU2Net code on this kind of machine (2 threads, batch 2, 512 x 416, fp32)
GU2NET_ORIGINAL_QUOTED = {"train": 0.19, "infer": 0.75}
GU2NET_BAR = 1.5

# Quoted as published, never measured here. A literature row's protocol is as unverified as its number, so it
# asserts no resolution or ground-truth convention.
LITERATURE_PROTOCOL = "test1 as the paper reports it (resolution, images and ground truth not verified here)"
PUBLISHED_ISBI_TEST1 = [
    dict(model="SCN with learnable heatmaps (landmarker 0.4 example), 512 x 512 input", note="REFERENCE 4",
         protocol="original resolution, mean-of-annotators ground truth", mre="1.20", sd="-",
         sdr={"2": 84.5, "2.5": 90.2, "3": 93.5, "4": 97.2}),
    dict(model="AFPF (Chen 2019)", note="unverified, from the literature", protocol=LITERATURE_PROTOCOL,
         mre="about 1.17", sd="-", sdr={}),
    dict(model="attention-guided (Zhong 2019)", note="unverified, from the literature", protocol=LITERATURE_PROTOCOL,
         mre="about 1.12", sd="-", sdr={}),
]  # fmt: skip
# how our copy of a dataset differs from the one the published rows used (REFERENCE 4, the dataset.json notes)
OUR_DATA = {
    "isbi2015_ceph": "our images: the 'cepha400' JPEG copy (quality about 75) of the challenge BMPs, 2x "
    "box-downsampled to 967 x 1200 at 0.2 mm/px",
}
PUBLISHED_GU2NET_GRID = dict(
    model="GU2Net, own head table (published, unverified)",
    protocol="GU2Net resized grid, test1+test2 pooled (250 images)",
    mre="about 1.54",
)
PUBLISHED_HAND = dict(
    model="HTC (published, HTC paper Table 2)",
    protocol="Digital Hand Atlas, wrist-width mm",
    mre_sd="0.56 (0.58)",
    sdr="96.84 / 99.63 / 100",
)
PUBLISHED_HTC = [
    ("HTC paper Table 1, XCAT head (13 landmarks), SDR 2 / 2.5 / 3 / 4 mm", [
        dict(model="HRNet-W48", params="65.3M", mre="3.91 (6.22)", sdr="36.4 / 48.5 / 58.6 / 73.0"),
        dict(model="FARNet", params="79.0M", mre="3.51 (3.57)", sdr="35.6 / 46.5 / 56.2 / 71.3"),
        dict(model="GU2Net", params="2.74M", mre="5.96 (15.36)", sdr="38.7 / 48.4 / 56.4 / 66.7"),
        dict(model="HTC + multiresolution", params="16.2M (paper)", mre="2.88 (2.51)", sdr="46.8 / 59.0 / 68.0 / 79.7"),
    ]),
    ("HTC paper Table 1, ISBI 2023 (29 landmarks), SDR 2 / 2.5 / 3 / 4 mm", [
        dict(model="HRNet-W48", params="65.3M", mre="1.26 (1.49)", sdr="83.9 / 88.9 / 92.3 / 96.0"),
        dict(model="FARNet", params="79.0M", mre="1.10 (1.33)", sdr="87.6 / 91.9 / 94.5 / 96.9"),
        dict(model="GU2Net", params="2.74M", mre="1.78 (5.10)", sdr="82.0 / 86.3 / 88.9 / 92.3"),
        dict(model="HTC + multiresolution", params="16.2M (paper)", mre="1.08 (1.37)", sdr="88.1 / 92.2 / 94.5 / 96.7"),
    ]),
    ("HTC paper Table 2, hand (wrist-width mm), SDR 2 / 4 / 10 mm", [
        dict(model="Payer SCN 2019", params="-", mre="0.66 (0.74)", sdr="94.99 / 99.27 / 99.99"),
        dict(model="GU2Net (retrained)", params="-", mre="0.63 (1.36)", sdr="96.01 / 99.39 / 99.98"),
        dict(model="HTC", params="-", mre="0.56 (0.58)", sdr="96.84 / 99.63 / 100"),
    ]),
]  # fmt: skip
# HTC's parameters, XCAT head (K = 13): what is counted, the count, where it comes from
HTC_PARAMETERS = [
    dict(what="paper, Table 1", count="16.2M", source="as published; no natural part of the released code gives it"),
    dict(what="released code, registered", count="24,613,426", source="REFERENCE section 3 (the released code, run)"),
    dict(what="released code, used by its forward pass", count="21,887,026",
         source="the rest is never called: an `nn.MultiheadAttention` per stage (1,544,192), the patch-embedding "
         "BatchNorms (2,048) and two FPN output convs whose results are discarded (1,180,160)"),
    dict(what="ours, `htc` (`HTC(2, 3, 13)`)", count="21,887,026",
         source="`tests/networks/test_htc.py`: the used parameters, no dead ones"),
    dict(what="ours, `htc_original` (our test restatement, not the released code)", count="23,067,186",
         source="`tests/networks/_reference_htc.py`: the used parameters plus the two discarded FPN output convs, "
         "evaluated as the released code evaluates them so the speed baseline costs what the original costs"),
]  # fmt: skip
