"""Universal-model data: one-domain batches taking turns, per-domain transforms, per-domain datalists."""

import pytest

from monai_landmarks.data import (
    DatasetError,
    DomainBatchSampler,
    DomainDataset,
    domain_datalist,
    domain_index,
    domain_names,
    domain_setting,
    domain_short_names,
    domain_training_datalists,
    generate_phantom_dataset,
    per_domain,
)

DOMAINS = [0] * 10 + [1] * 7  # 4 + 3 batches of 3


def _domain_of(batch):
    assert len({DOMAINS[i] for i in batch}) == 1, batch
    return DOMAINS[batch[0]]


def test_batches_hold_one_domain_and_alternate():
    batches = list(DomainBatchSampler(DOMAINS, 3, shuffle=False))
    assert [_domain_of(b) for b in batches] == [0, 1, 0, 1, 0, 1, 0]
    assert sorted(i for b in batches for i in b) == list(range(17))  # every sample once
    assert len(batches) == len(DomainBatchSampler(DOMAINS, 3)) == 7


def test_drop_last():
    sampler = DomainBatchSampler(DOMAINS, 3, shuffle=False, drop_last=True)
    batches = list(sampler)
    assert all(len(b) == 3 for b in batches) and len(batches) == len(sampler) == 5


def test_order_is_a_function_of_seed_and_epoch():
    def draw(seed, epoch):
        sampler = DomainBatchSampler(DOMAINS, 3, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert draw(0, 1) == draw(0, 1)  # a resumed run draws what an uninterrupted one would
    assert draw(0, 1) != draw(0, 2) and draw(0, 1) != draw(1, 1)


@pytest.mark.parametrize("even", [True, False])
def test_distributed_ranks_share_the_domain_of_each_step(even):
    ranks = [DomainBatchSampler(DOMAINS, 3, seed=3, num_replicas=2, rank=r, even_divisible=even) for r in (0, 1)]
    for s in ranks:
        s.set_epoch(5)
    per_rank = [list(s) for s in ranks]
    assert [len(b) for b in per_rank] == [len(s) for s in ranks]
    seen = [i for batches in per_rank for b in batches for i in b]
    if even:
        assert len(per_rank[0]) == len(per_rank[1]) and set(seen) == set(range(17))
        for a, b in zip(*per_rank, strict=True):
            assert _domain_of(a) == _domain_of(b)  # DDP reduces gradients of one domain's modules at each step
    else:
        assert sorted(seen) == list(range(17))  # evaluation: nothing counted twice


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        DomainBatchSampler(DOMAINS, 0)
    with pytest.raises(ValueError, match="rank"):
        DomainBatchSampler(DOMAINS, 2, num_replicas=2, rank=2)


def test_domain_dataset_applies_each_domain_its_transform():
    data = [{"domain": 0, "v": 1}, {"domain": 1, "v": 2}]
    ds = DomainDataset(data, [lambda d: {**d, "t": "a"}, lambda d: {**d, "t": "b"}])
    assert [ds[0]["t"], ds[1]["t"]] == ["a", "b"]
    with pytest.raises(ValueError, match="domains"):
        DomainDataset(data, [lambda d: d])


def test_datalists_tag_domains(tmp_path):
    roots = [generate_phantom_dataset(tmp_path / k, k, 4, 2, 2, size=(64, 80)) for k in ("head", "hand")]
    train, val = domain_training_datalists(roots, num_val=1)
    assert [d["domain"] for d in train] == [0] * 4 + [1] * 4 and [d["domain"] for d in val] == [0, 0, 1, 1]
    test = domain_datalist(roots, ["test", "test"])
    assert [d["domain"] for d in test] == [0, 0, 1, 1]
    assert domain_names(roots) == ["synthetic_head", "synthetic_hand"]
    with pytest.raises(ValueError, match="image_sizes has 1 entries but the bundle has 2 domains"):
        per_domain([[64, 80]], roots, "image_sizes")
    with pytest.raises(DatasetError, match="share a dataset name"):
        domain_names([roots[0], roots[0]])


def test_domain_setting_picks_the_served_domain_and_names_a_bad_one():
    sizes = [[256, 320], [192, 512], [256, 256]]
    assert domain_setting(sizes, 1, "image_sizes") == [192, 512]
    for bad in (3, -1, True, "1", 1.0):
        with pytest.raises(ValueError, match=r"domain must be an integer from 0 to 2 \(image_sizes has 3 entries"):
            domain_setting(sizes, bad, "image_sizes")


def test_a_domain_is_chosen_by_index_dataset_name_or_short_name():
    names = ["isbi2015_ceph", "aasce_spine", "jsrt_chest"]
    assert domain_short_names(names) == ["ceph", "spine", "chest"]
    assert domain_short_names(["a_head", "b_head"]) == ["a_head", "b_head"]  # short names would clash
    for choice in (1, "1", "aasce_spine", "spine"):
        assert domain_index(choice, names, 3) == 1
    for bad in (3, "-1", "knee", True, "ceph_spine"):
        with pytest.raises(ValueError, match=r"unknown domain .*0 \(isbi2015_ceph\), 1 \(aasce_spine\)"):
            domain_index(bad, names, 3, "bundle domain")
    with pytest.raises(ValueError, match="domains are 0 to 1"):
        domain_index(2, None, 2)


def test_batches_per_domain_balances_unequal_domains():
    sampler = DomainBatchSampler(DOMAINS, 3, seed=1, batches_per_domain=4)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 8
    assert [_domain_of(b) for b in batches].count(0) == 4 and all(len(b) == 3 for b in batches)
    for domain in (0, 1):  # each complete pass over a domain holds every one of its samples once
        drawn = [i for b in batches if _domain_of(b) == domain for i in b]
        own = [i for i, d in enumerate(DOMAINS) if d == domain]
        for start in range(0, len(drawn) - len(own) + 1, len(own)):
            assert sorted(drawn[start : start + len(own)]) == own
        assert set(drawn) <= set(own)
    with pytest.raises(ValueError, match="batches_per_domain"):
        DomainBatchSampler(DOMAINS, 3, batches_per_domain=0)
