"""Data for a universal model (GU2Net) trained on several anatomy domains at once.

Every sample carries its domain index (``Keys.DOMAIN``): the position of its dataset in the list the bundle
was given. Domains differ in landmark count and input size, so

- :class:`~monai_landmarks.transforms.DomainResized` resizes each sample to its domain's input size in one
  pipeline (the bundle's way); :class:`DomainDataset` applies each sample a whole pipeline of its domain, and
- :class:`DomainBatchSampler` makes batches of one domain each and alternates the domains, as GU2Net trains
  ("batch 4 per domain, batches alternate between domains").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from monai.data import Dataset
from torch.utils.data import Sampler

from monai_landmarks.data.datalists import dataset_folder, error_protocol, resolve_dataset, training_datalists
from monai_landmarks.data.dataset_format import DatasetError, load_datalist, read_metadata
from monai_landmarks.metrics.protocol import WRIST_WIDTH_MM, ErrorProtocol
from monai_landmarks.utils.keys import Keys

__all__ = [
    "DomainBatchSampler",
    "DomainDataset",
    "domain_datalist",
    "domain_folders",
    "domain_index",
    "domain_indices",
    "domain_landmark_counts",
    "domain_landmark_names",
    "domain_names",
    "domain_protocols",
    "domain_setting",
    "domain_short_names",
    "domain_training_datalists",
    "per_domain",
    "resolve_domains",
]


def resolve_domains(dataset_dirs, kinds: Sequence[str] = ("head", "hand"), cache_dir="./data", **synthetic) -> list:
    """The dataset folder of each domain: ``dataset_dirs`` when set, else one synthetic phantom set per kind.

    Args:
        dataset_dirs: folders in the dataset format, one per domain (their order gives the domain indices), or
            None / empty for synthetic phantoms.
        kinds: phantom kinds of the synthetic default, one domain each.
        cache_dir, synthetic: passed to :func:`~monai_landmarks.data.datalists.resolve_dataset`.
    """
    if dataset_dirs:
        if isinstance(dataset_dirs, (str, Path)):
            raise DatasetError(f"dataset_dirs must be a list of dataset folders, one per domain, got {dataset_dirs!r}.")
        return [resolve_dataset(d) for d in dataset_dirs]
    return [resolve_dataset(None, kind=kind, cache_dir=cache_dir, **synthetic) for kind in kinds]


def domain_folders(dataset_dirs) -> list[Path]:
    """The dataset folder of each domain of a real-data profile, in domain order.

    Raises:
        DatasetError: if ``dataset_dirs`` is unset (saying how to train on phantoms instead), is a single path
            instead of a list, or names a folder without ``dataset.json``.
    """
    if not dataset_dirs:
        raise DatasetError(
            "dataset_dirs is not set: give one dataset folder per domain, for example "
            "--dataset_dirs \"['isbi2015_ceph','dha_hand']\", or train on synthetic phantoms by adding the "
            "bundle's configs/synthetic.json."
        )
    if isinstance(dataset_dirs, (str, Path)):
        raise DatasetError(f"dataset_dirs must be a list of dataset folders, one per domain, got {dataset_dirs!r}.")
    return [dataset_folder(d) for d in dataset_dirs]


def domain_landmark_counts(roots: Sequence) -> list[int]:
    """The number of landmarks of each domain (the GU2Net head of each), from its ``dataset.json``."""
    return [int(read_metadata(r)["num_landmarks"]) for r in roots]


def domain_landmark_names(roots: Sequence) -> list:
    """The landmark names of each domain (None where its ``dataset.json`` has none)."""
    return [read_metadata(r).get("landmark_names") for r in roots]


def domain_protocols(
    roots: Sequence, wrist_pairs: Sequence, wrist_width_mm: float = WRIST_WIDTH_MM
) -> list[ErrorProtocol]:
    """The error protocol of each domain (see :func:`~monai_landmarks.data.datalists.error_protocol`).

    Args:
        roots: the domains' dataset folders.
        wrist_pairs: per domain, the wrist pair to use where its ``dataset.json`` has no ``wrist_normalisation``
            (None for domains that are not hands).
        wrist_width_mm: the wrist width that goes with those pairs.
    """
    pairs = per_domain(wrist_pairs, roots, "wrist_pairs")
    return [error_protocol(r, wrist_pair=p, wrist_width_mm=wrist_width_mm) for r, p in zip(roots, pairs, strict=True)]


def domain_indices(datalist: Sequence[dict]) -> list[int]:
    """The domain index of each datalist item (0 when absent), as :class:`DomainBatchSampler` takes them."""
    return [_domain(item) for item in datalist]


def domain_names(roots: Sequence) -> list[str]:
    """A short name per domain: the dataset's ``name`` in ``dataset.json`` (its folder name when unnamed)."""
    names = [str(read_metadata(r).get("name") or Path(r).name) for r in roots]
    if len(set(names)) != len(names):
        raise DatasetError(f"two domains share a dataset name: {names}; give each dataset its own name.")
    return names


def per_domain(values: Sequence, roots: Sequence, name: str) -> list:
    """``values`` checked to hold one entry per domain (a setting such as the input size of each)."""
    values = list(values)
    if len(values) < len(roots):
        raise ValueError(
            f"{name} has {len(values)} entries but the bundle has {len(roots)} domains "
            f"({', '.join(str(r) for r in roots)}); give one entry per domain."
        )
    return values[: len(roots)]


def domain_setting(values: Sequence, domain, name: str):
    """The entry of ``values`` (a per-domain setting) for ``domain``, the one domain an inference run serves.

    Raises:
        ValueError: if ``domain`` is not an integer index of ``values``, naming the setting and the valid domains.
    """
    count = len(values)
    if isinstance(domain, bool) or not isinstance(domain, int) or not 0 <= domain < count:
        raise ValueError(
            f"domain must be an integer from 0 to {count - 1} ({name} has {count} entries, one per domain), "
            f"got {domain!r}."
        )
    return values[domain]


def domain_short_names(names: Sequence[str]) -> list[str]:
    """A short name per domain: the last ``_`` part of its dataset name (``isbi2015_ceph`` -> ``ceph``) when those
    are unique, else the dataset names themselves (MONAI Label serves ``<bundle>_<short name>``)."""
    short = [str(n).rsplit("_", 1)[-1] for n in names]
    return short if len(set(short)) == len(short) else [str(n) for n in names]


def domain_index(domain, names: Sequence[str] | None, count: int, where: str = "domain") -> int:
    """The index of the domain a user chose: an index (``1`` or ``"1"``), a dataset name of ``names``
    (``"aasce_spine"``) or its short name (``"spine"``, :func:`domain_short_names`).

    Raises:
        ValueError: anything else; the message names ``where`` and lists the valid names and indices.
    """
    names = [str(n) for n in names or []]
    text = str(domain).strip()
    if isinstance(domain, int) and not isinstance(domain, bool) or text.isdigit():
        index = int(text)
        if 0 <= index < count:
            return index
    else:
        for candidates in (names, domain_short_names(names) if names else []):
            if text in candidates:
                return candidates.index(text)
    valid = ", ".join(f"{i} ({n})" for i, n in enumerate(names)) if names else f"0 to {count - 1}"
    raise ValueError(f"{where}: unknown domain {domain!r}; this bundle's domains are {valid}.")


def domain_training_datalists(roots: Sequence, num_val: int | Sequence[int] = 20, ground_truth: str = "mean"):
    """Training and validation datalists over all domains, each item tagged with its domain index."""
    counts = [num_val] * len(roots) if isinstance(num_val, int) else per_domain(num_val, roots, "num_val")
    train, val = [], []
    for domain, (root, n) in enumerate(zip(roots, counts, strict=True)):
        t, v = training_datalists(root, num_val=n, ground_truth=ground_truth, domain=domain)
        train += t
        val += v
    return train, val


def _domain(item: dict) -> int:
    return int(item.get(Keys.DOMAIN, 0))


class DomainDataset(Dataset):
    """A MONAI ``Dataset`` whose items go through the transform of their own domain.

    Args:
        data: datalist items, each with a ``Keys.DOMAIN`` index (0 when absent).
        transforms: one callable per domain.
    """

    def __init__(self, data: Sequence[dict], transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)
        found = sorted({_domain(d) for d in data})
        if found and (found[0] < 0 or found[-1] >= len(self.transforms)):
            raise ValueError(f"the data has domains {found} but {len(self.transforms)} transforms were given.")
        super().__init__(data=data, transform=None)

    def _transform(self, index: int):
        item = self.data[index]
        return self.transforms[_domain(item)](item)


class DomainBatchSampler(Sampler[list[int]]):
    """Batches of one domain each, the domains taking turns (0, 1, 2, 0, 1, 2, ...).

    A domain that runs out drops out of the rotation, so every sample is seen once per epoch. The order is a
    function of ``seed`` and the epoch alone (:meth:`set_epoch`; ``SetSamplerEpoch`` calls it), so a resumed run
    draws the batches an uninterrupted one would.

    Args:
        domains: the domain index of each dataset item (``[d[Keys.DOMAIN] for d in datalist]``).
        batch_size: samples per batch.
        shuffle: shuffle each domain's samples and the starting domain every epoch.
        drop_last: drop each domain's last incomplete batch.
        seed: base seed of the shuffling.
        num_replicas, rank: for distributed runs: at each step every rank takes its own batch of the same domain.
        even_divisible: pad the batch list by repetition so that every rank gets as many batches (training
            under DDP needs it); False for evaluation, where a repeated sample would count twice.
        batches_per_domain: if given, every domain gives exactly this many batches per epoch, its samples drawn
            in reshuffled passes (a small domain repeats, a large one is seen in part): the domains train
            equally often whatever their sizes. None: each sample once per epoch.
    """

    def __init__(
        self,
        domains: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        even_divisible: bool = True,
        batches_per_domain: int | None = None,
    ) -> None:
        if batches_per_domain is not None and batches_per_domain < 1:
            raise ValueError(f"batches_per_domain must be positive or None, got {batches_per_domain}.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must lie in [0, {num_replicas}), got {rank}.")
        self.domains = [int(d) for d in domains]
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.even_divisible = even_divisible
        self.batches_per_domain = batches_per_domain
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _domain_batches(self, generator: torch.Generator) -> list[list[list[int]]]:
        batches = []
        for domain in sorted(set(self.domains)):
            indices = [i for i, d in enumerate(self.domains) if d == domain]
            if self.batches_per_domain is not None:
                batches.append(self._fixed_batches(indices, generator))
                continue
            if self.shuffle:
                indices = [indices[j] for j in torch.randperm(len(indices), generator=generator).tolist()]
            chunks = [indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)]
            if self.drop_last and chunks and len(chunks[-1]) < self.batch_size:
                chunks.pop()
            batches.append(chunks)
        return batches

    def _fixed_batches(self, indices: list[int], generator: torch.Generator) -> list[list[int]]:
        """``batches_per_domain`` full batches from passes over ``indices``, each pass in a new order."""
        wanted = self.batches_per_domain * self.batch_size
        drawn: list[int] = []
        while len(drawn) < wanted:
            order = torch.randperm(len(indices), generator=generator).tolist() if self.shuffle else range(len(indices))
            drawn += [indices[j] for j in order]
        return [drawn[i : i + self.batch_size] for i in range(0, wanted, self.batch_size)]

    def _steps(self) -> list[list[list[int]]]:
        """The batches of each step, one per rank and all of one domain; the domains take turns."""
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        per_domain_batches = self._domain_batches(generator)
        if self.shuffle and per_domain_batches:
            start = int(torch.randint(len(per_domain_batches), (1,), generator=generator))
            per_domain_batches = per_domain_batches[start:] + per_domain_batches[:start]
        groups = [self._groups(batches) for batches in per_domain_batches]
        longest = max((len(g) for g in groups), default=0)
        return [g[i] for i in range(longest) for g in groups if i < len(g)]

    def _groups(self, batches: list[list[int]]) -> list[list[list[int]]]:
        # Every rank works on the same domain at each step, so DDP reduces the same domain's gradients.
        n = self.num_replicas
        if self.even_divisible and batches:
            padded = list(batches)
            while len(padded) % n:
                padded.append(batches[(len(padded) - len(batches)) % len(batches)])
            batches = padded
        return [batches[i : i + n] for i in range(0, len(batches), n)]

    def __iter__(self) -> Iterator[list[int]]:
        return iter([step[self.rank] for step in self._steps() if self.rank < len(step)])

    def __len__(self) -> int:
        rounding = math.floor if self.drop_last else math.ceil
        total = 0
        for domain in set(self.domains):
            num_batches = self.batches_per_domain or rounding(self.domains.count(domain) / self.batch_size)
            full, rest = divmod(num_batches, self.num_replicas)
            total += full + (1 if rest and (self.even_divisible or self.rank < rest) else 0)
        return total


def domain_datalist(roots: Sequence, splits: Sequence[str], ground_truth: str = "mean") -> list[dict]:
    """One split of every domain (``splits[d]`` of ``roots[d]``) in one datalist, items tagged with their domain."""
    items = []
    for domain, (root, split) in enumerate(zip(roots, per_domain(splits, roots, "splits"), strict=True)):
        items += load_datalist(root, split=split, ground_truth=ground_truth, domain=domain)
    return items
