"""Similarity across a class: the few pairs that share far more code than the class shares.

A course of small functions defeats a general similarity checker: most honest learners write
``queries @ keys.transpose(-2, -1)`` the same way, everyone starts from the same stubs, and many
follow the public article. So, per step file:

1. **What each submission wrote.** The intake (`intake.make_private_copy`, the one intake:
   package, loose modules, zips and the notebooks' answer cells alike) gives ``attention/<module>.py``
   per step; the line the notebook extraction adds is dropped (`extract.learner_code`). Other
   ``.py`` files (helpers) are compared together as one more file.
2. **Fingerprints** (`autograder.grading.fingerprints`) come from copydetect (Pygments tokens
   with names, strings and comments folded, so renaming and re-commenting change nothing; MOSS's
   winnowing of k-grams, so reordering functions changes nothing).
3. **What does not count** as similarity between two learners:
   - the released stubs (the stub modules, the learner notebooks' answer cells, and the solution
     modules outside their solution regions: signatures, docstrings, imports);
   - code matching the instructor's solutions or the article's listings: shown per submission
     instead ("matches the reference solution", "follows the article");
   - code that more than `common_limit` submissions share (MOSS's ``-m``, relative to class size).
4. **A pair's score** is the share of its smaller side's remaining (distinctive) fingerprints
   that the other side has too, per step file, summed; a pair is marked for review when the
   score and the number of shared fingerprints are both high (`FLAG_SCORE`, `FLAG_SHARED`).

A score is similarity for a human to review, never a verdict. Everything runs on this machine.
"""

from __future__ import annotations

import copy
import itertools
import math
import multiprocessing
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import REPO_ROOT
from ..course import Course
from ..markers import solution_regions
from .article_listings import ARTICLE_LISTINGS
from .extract import answer_sources, learner_code, read_notebook
from .fingerprints import FileFingerprint, classify, fingerprint, kgram_set
from .intake import PACKAGE, Submission, make_private_copy

COMMON_SHARE = 0.1  # code in more than this share of the class is common (at least MIN_COMMON submissions)
MIN_COMMON = 3
MIN_OWN = 25  # a score divides by at least this many fingerprints (about three lines): tiny code cannot score high
FLAG_SCORE = 0.5  # marked for review: at least this score ...
FLAG_SHARED = 20  # ... and at least this many shared distinctive fingerprints
REFERENCE_SHARE = 0.8  # "matches the reference solution" / "follows the article" in a file from this share ...
REFERENCE_OWN = 5  # ... of at least this many of its own fingerprints
OTHER = "other modules"  # the key of a submission's .py files that are no step's module
MAX_COMPARED_CHARS = 256 * 1024  # of one file; the course's files are a few kB (a longer one is cut, with a note)
PARALLEL_FROM = 40  # classes this large are read and fingerprinted in two processes (where fork exists)


@dataclass
class CourseSources:
    """What nothing is counted against two learners for: stubs, solutions and article, as k-gram hashes."""

    stubs: dict[str, np.ndarray] = field(default_factory=dict)  # file key -> every k-gram of its stubs
    solution: dict[str, np.ndarray] = field(default_factory=dict)  # file key -> the solution module's k-grams
    article: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    stub_texts: dict[str, set[str]] = field(default_factory=dict)  # file key -> the stubs (an untouched file)
    notes: list[str] = field(default_factory=list)


@dataclass
class Pair:
    first: str
    second: str
    score: float  # 0..1: shared distinctive fingerprints / the smaller side's (at least MIN_OWN)
    shared: int  # distinctive fingerprints the two share
    files: dict[str, int]  # file key -> shared fingerprints there
    flagged: bool = False


@dataclass
class Studied:
    """One submission, read and fingerprinted: per file key its code, fingerprint and what the fingerprints are.

    Only what the report needs is kept (a class of 500 is held at once): the distinctive
    fingerprints (their positions for the side-by-side view) and how many of the learner's own
    fingerprints the solutions and the article cover.
    """

    form: str
    notes: list[str] = field(default_factory=list)  # for the instructor: what was not compared
    codes: dict[str, str] = field(default_factory=dict)
    prints: dict[str, FileFingerprint] = field(default_factory=dict)
    distinctive: dict[str, set[int]] = field(default_factory=dict)
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # own, on the solutions, on the article


@dataclass
class SimilarityResult:
    names: list[str]
    pairs: list[Pair]  # every pair sharing a distinctive fingerprint, highest score first
    common_limit: int  # fingerprints in more submissions than this are class-common
    distinctive: dict[str, int]  # submission -> its distinctive fingerprints
    solution_steps: dict[str, dict[str, float]]  # submission -> file key -> share matching the solutions
    article_steps: dict[str, dict[str, float]]  # submission -> file key -> share matching the article
    studied: dict[str, Studied]  # submission -> its code and fingerprints (for the side-by-side views)
    kept: dict[str, set[int]]  # file key -> the distinctive fingerprints of the class
    notes: list[str] = field(default_factory=list)
    pair_count: int = 0  # pairs compared, n (n - 1) / 2

    @property
    def flagged(self) -> list[Pair]:
        return [p for p in self.pairs if p.flagged]


def _as_array(values: set[int]) -> np.ndarray:
    return np.fromiter(values, np.int64, len(values))


def file_keys(course: Course) -> dict[str, list[str]]:
    """File key (the module name, or `OTHER`) -> the step ids it holds, in course order."""
    keys: dict[str, list[str]] = {}
    for step in course.steps:
        keys.setdefault(step.module, []).append(step.id)
    keys[OTHER] = []
    return keys


def course_sources(course: Course, root: Path = REPO_ROOT) -> CourseSources:
    """Stubs, solutions and the article, from ``exercises/``, ``solutions/`` and `ARTICLE_LISTINGS`.

    Grade time never imports the release code: a stub is what `autograder.markers` leaves of a
    solution module once its regions are cut out, plus the released files when they are here.
    """
    sources = CourseSources(article=_as_array(kgram_set(ARTICLE_LISTINGS)))
    released = root / "exercises" / "attention"
    notebooks = root / "exercises" / "notebooks"
    solutions = root / "solutions" / "attention"
    if not solutions.is_dir():
        sources.notes.append("the instructor's solutions are not here: matches to them are not recognised")
    for key, steps in file_keys(course).items():
        module = "__init__" if key == OTHER else key
        stub_texts: list[str] = []
        if (released / f"{module}.py").is_file():
            stub_texts.append((released / f"{module}.py").read_text(encoding="utf-8"))
        for step_id in steps:
            path = notebooks / f"{course.step(step_id).notebook}.ipynb"
            data = read_notebook(path) if path.is_file() else None
            stub_texts += answer_sources(data, step_id) if data else []
        solution: set[int] = set()
        if (solutions / f"{module}.py").is_file():
            text = (solutions / f"{module}.py").read_text(encoding="utf-8")
            lines = text.splitlines()
            inside: set[int] = set()
            for region in solution_regions(text, f"{module}.py"):
                inside.update(range(region.begin - 1, region.end))
            stub_texts.append("\n".join(line for n, line in enumerate(lines) if n not in inside))
            solution = kgram_set(text)
        stubs = set().union(*map(kgram_set, stub_texts)) if stub_texts else set()
        sources.stubs[key], sources.solution[key] = _as_array(stubs), _as_array(solution - stubs)
        sources.stub_texts[key] = {t.strip() for t in stub_texts}
    return sources


def read_code(submission: Submission, course: Course, scratch: Path) -> tuple[dict[str, str], str]:
    """File key -> the code a submission holds (through the one intake), and the form it was found in."""
    private = make_private_copy(submission, scratch, owner=None, course=course)
    try:
        keys = file_keys(course)
        files: dict[str, str] = {}
        others: list[str] = []
        from_notebooks = {course.step(step_id).module for step_id, where in private.sources.items()
                          if not where.startswith(f"{PACKAGE}/")}
        for path in sorted(private.package_dir.rglob("*.py")) if private.package_dir.is_dir() else []:
            text = path.read_text(encoding="utf-8", errors="replace")
            relative = path.relative_to(private.package_dir).as_posix()
            if path.parent == private.package_dir and path.stem in keys and path.stem != OTHER:
                files[path.stem] = learner_code(text) if path.stem in from_notebooks else text
            elif text.strip():
                others.append(f"# {relative}\n{text}")
        if others:
            files[OTHER] = "\n".join(others)
        return files, private.form
    finally:
        shutil.rmtree(private.root, ignore_errors=True)


def study(codes: dict[str, str], sources: CourseSources, form: str = "") -> Studied:
    """Fingerprint a submission's files and sort their fingerprints (`fingerprints.classify`).

    A file that is exactly one of its stubs is skipped: it holds nothing of the learner's.
    """
    studied = Studied(form)
    empty = np.zeros(0, np.int64)
    for key, code in codes.items():
        if code.strip() in sources.stub_texts.get(key, ()):
            continue
        if len(code) > MAX_COMPARED_CHARS:
            studied.notes.append(f"{key}: {len(code) // 1024} kB of code, only the first "
                                 f"{MAX_COMPARED_CHARS // 1024} kB compared")
            code = code[:MAX_COMPARED_CHARS]
        studied.codes[key] = code
        studied.prints[key] = fingerprint(code)
        parts = classify(studied.prints[key], sources.stubs.get(key, empty), sources.solution.get(key, empty),
                         sources.article)
        studied.distinctive[key] = parts.distinctive
        studied.counts[key] = (len(parts.own), len(parts.solution), len(parts.article))
        kept = studied.prints[key]
        kept.hash_idx = {h: places for h, places in kept.hash_idx.items() if h in parts.distinctive}
        kept.hashes, kept.grams = set(kept.hash_idx), empty  # the k-grams were only needed here
    return studied


_WORK: tuple[list[Submission], Course, CourseSources, Path] | None = None  # what forked workers read


def _study_one(index: int) -> Studied:
    assert _WORK is not None
    submissions, course, sources, scratch = _WORK
    try:
        codes, form = read_code(submissions[index], course, scratch)
        return study(codes, sources, form)
    except Exception as error:  # noqa: BLE001 - one unreadable submission must not lose the class's report
        return Studied("not compared", notes=[f"not compared: the report failed on it ({type(error).__name__}: "
                                              f"{error}); please report this"])


def study_all(submissions: Sequence[Submission], course: Course, sources: CourseSources, *, jobs: int = 2,
              ) -> dict[str, Studied]:
    """Read and fingerprint every submission: in ``jobs`` forked processes for a large class, else here."""
    global _WORK
    with tempfile.TemporaryDirectory(prefix="autograder-similarity-") as scratch:
        _WORK = (list(submissions), course, sources, Path(scratch))
        try:
            jobs = min(jobs, os.cpu_count() or 1)
            if len(submissions) >= PARALLEL_FROM and jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
                with multiprocessing.get_context("fork").Pool(jobs) as pool:
                    done = pool.map(_study_one, range(len(submissions)), chunksize=8)
            else:
                done = [_study_one(index) for index in range(len(submissions))]
        finally:
            _WORK = None
    return {s.name: d for s, d in zip(submissions, done, strict=True)}


def common_limit(class_size: int) -> int:
    """Fingerprints in more than this many submissions are common code (MOSS's ``-m``, relative to size)."""
    return max(MIN_COMMON, math.ceil(COMMON_SHARE * class_size))


def _reference_shares(counts: dict[str, tuple[int, int, int]]) -> tuple[dict[str, float], dict[str, float]]:
    solution, article = {}, {}
    for key, (own, on_solution, on_article) in counts.items():
        if own >= REFERENCE_OWN:
            if on_solution / own >= REFERENCE_SHARE:
                solution[key] = on_solution / own
            if on_article / own >= REFERENCE_SHARE:
                article[key] = on_article / own
    return solution, article


def compare(studied: dict[str, Studied], notes: Sequence[str] = ()) -> SimilarityResult:
    """Score every pair of studied submissions (see the module docstring)."""
    names = list(studied)
    limit = common_limit(len(names))
    holders: dict[tuple[str, int], list[int]] = defaultdict(list)
    for index, name in enumerate(names):
        for key, values in studied[name].distinctive.items():
            for value in values:
                holders[(key, value)].append(index)
    kept: dict[str, set[int]] = defaultdict(set)
    distinctive: Counter[str] = Counter()
    shared: Counter[tuple[int, int]] = Counter()
    shared_files: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    for (key, value), who in holders.items():
        if len(who) > limit:
            continue
        kept[key].add(value)
        for index in who:
            distinctive[names[index]] += 1
        for pair in itertools.combinations(who, 2):
            shared[pair] += 1
            shared_files[pair][key] += 1
    pairs = []
    for (i, j), count in shared.items():
        smaller = max(MIN_OWN, min(distinctive[names[i]], distinctive[names[j]]))
        score = min(1.0, count / smaller)
        pairs.append(Pair(names[i], names[j], score, count, dict(shared_files[(i, j)].most_common()),
                          flagged=score >= FLAG_SCORE and count >= FLAG_SHARED))
    pairs.sort(key=lambda p: (-p.score, -p.shared, p.first, p.second))
    shares = {name: _reference_shares(studied[name].counts) for name in names}
    return SimilarityResult(names, pairs, limit, {n: distinctive[n] for n in names},
                            {n: shares[n][0] for n in names}, {n: shares[n][1] for n in names}, studied,
                            dict(kept), list(notes), len(names) * (len(names) - 1) // 2)


def highlighted_slices(result: SimilarityResult, pair: Pair, key: str) -> tuple[np.ndarray, np.ndarray]:
    """The regions of both files of ``key`` holding the pair's shared distinctive fingerprints (copydetect slices)."""
    from copydetect import compare_files

    restricted = []
    for name in (pair.first, pair.second):
        print_ = copy.copy(result.studied[name].prints[key])
        print_.hashes = set(print_.hashes) & result.kept.get(key, set())
        print_.hash_idx = {h: i for h, i in print_.hash_idx.items() if h in print_.hashes}
        restricted.append(print_)
    _, _, (first, second) = compare_files(*restricted)
    return first, second


def similarity_of(submissions: Sequence[Submission], course: Course, sources: CourseSources | None = None, *,
                  jobs: int = 2) -> SimilarityResult:
    """Read every submission through the intake, fingerprint it, and compare them all."""
    sources = sources or course_sources(course)
    return compare(study_all(submissions, course, sources, jobs=jobs), sources.notes)
