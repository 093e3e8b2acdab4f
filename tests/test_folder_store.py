"""FolderStore's manifest: a journal per put, compaction, torn lines, crashes, many writers."""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from api.archive.folder import INDEX_NAME, JOURNAL_NAME, FolderStore
from api.core.model import Invoice
from tests.contract.samples import invoice

ROOT = Path(__file__).resolve().parents[1]


def document(folder: Path, content: bytes, name: str = "download.tmp") -> tuple[Path, str]:
    path = folder / name
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


def archived(store: FolderStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file() and not p.name.startswith("."))


def leftovers(store: FolderStore) -> list[Path]:
    return [p for p in store.root.rglob("*.tmp")]


def test_each_put_appends_one_journal_line_and_never_rewrites_the_manifest(
    tmp_path: Path,
) -> None:
    store = FolderStore(tmp_path / "archive")
    for number in (1, 2, 3):
        source, digest = document(tmp_path, f"%PDF {number}".encode())
        store.put(invoice(number), "pdf", source, digest)

    lines = (store.root / JOURNAL_NAME).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and not (store.root / INDEX_NAME).exists()
    expected = {
        f"DigitalOcean/Acme Team/2026/2026-0{n} INV-100{n}.pdf": {
            "key": f"digitalocean:uuid-{n}",
            "kind": "pdf",
            "sha256": hashlib.sha256(f"%PDF {n}".encode()).hexdigest(),
        }
        for n in (1, 2, 3)
    }
    assert store.index() == expected
    assert FolderStore(store.root).index() == expected  # what another process would read


def test_a_re_issued_file_is_retagged_and_the_latest_tag_wins(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "archive")
    old, old_digest = document(tmp_path, b"%PDF first", "a.tmp")
    new, new_digest = document(tmp_path, b"%PDF corrected", "b.tmp")
    store.put(invoice(1), "pdf", old, old_digest)
    link = store.put(invoice(1), "pdf", new, new_digest)

    (entry,) = store.index().values()
    assert entry["sha256"] == new_digest == link.sha256
    assert [p.read_bytes() for p in archived(store)] == [b"%PDF corrected"]


def test_the_journal_is_folded_into_the_manifest_once_it_is_big(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "archive", compact_at=600)  # ~4 tags
    digests = {}
    for number in range(1, 11):
        source, digests[number] = document(tmp_path, f"csv {number}".encode())
        store.put(invoice(number), "csv", source, digests[number])

    manifest = json.loads((store.root / INDEX_NAME).read_text(encoding="utf-8"))
    journal = (store.root / JOURNAL_NAME).read_bytes()
    assert 0 < len(manifest) < 10 and len(journal) < 600  # folded at least once, then grew again
    index = store.index()
    assert sorted(entry["sha256"] for entry in index.values()) == sorted(digests.values())
    assert len(index) == len(archived(store)) == 10


def test_a_torn_last_line_is_skipped_and_the_next_put_starts_a_fresh_line(
    tmp_path: Path,
) -> None:
    store = FolderStore(tmp_path / "archive")
    first, first_digest = document(tmp_path, b"one", "1.tmp")
    store.put(invoice(1), "pdf", first, first_digest)
    with (store.root / JOURNAL_NAME).open("ab") as journal:
        journal.write(b'{"file": "DigitalOcean/Acme Team/2026/2026-02 INV-1002.pdf", "ke')

    assert len(store.index()) == 1  # the torn line is not an entry
    second, second_digest = document(tmp_path, b"two", "2.tmp")
    store.put(invoice(2), "pdf", second, second_digest)

    index = store.index()
    assert sorted(e["sha256"] for e in index.values()) == sorted([first_digest, second_digest])


def test_a_file_renamed_but_never_tagged_is_tagged_without_a_second_copy(
    tmp_path: Path,
) -> None:
    # What a crash between the rename and the journal line leaves: the file, and no tag.
    store = FolderStore(tmp_path / "archive")
    source, digest = document(tmp_path, b"%PDF already there")
    target = store.path_for(invoice(1), "pdf")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"%PDF already there")
    before = target.stat().st_ino

    store.put(invoice(1), "pdf", source, digest)

    assert target.stat().st_ino == before  # not copied again
    assert archived(store) == [target] and not leftovers(store)
    assert list(store.index().values()) == [
        {"key": "digitalocean:uuid-1", "kind": "pdf", "sha256": digest}
    ]


def test_a_crash_between_compaction_steps_replays_the_journal_harmlessly(
    tmp_path: Path,
) -> None:
    # The manifest was rewritten with the journal in it, the journal not yet emptied.
    store = FolderStore(tmp_path / "archive")
    for number in (1, 2):
        source, digest = document(tmp_path, f"pdf {number}".encode())
        store.put(invoice(number), "pdf", source, digest)
    index = store.index()
    (store.root / INDEX_NAME).write_text(json.dumps(index), encoding="utf-8")

    assert store.index() == index


def test_a_damaged_manifest_still_shows_what_the_journal_holds(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "archive")
    (store.root).mkdir(parents=True)
    (store.root / INDEX_NAME).write_text("{not json", encoding="utf-8")
    source, digest = document(tmp_path, b"pdf")
    store.put(invoice(1), "pdf", source, digest)

    assert [e["sha256"] for e in store.index().values()] == [digest]


def test_many_threads_and_two_stores_on_one_folder_tag_every_file(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    stores = [FolderStore(root, compact_at=2_000), FolderStore(root, compact_at=2_000)]
    sources = {}
    for number in range(1, 41):
        sources[number] = document(tmp_path, f"doc {number}".encode(), f"{number}.tmp")

    def put(number: int) -> None:
        source, digest = sources[number]
        stores[number % 2].put(invoice(number, invoice_id=f"N-{number}"), "pdf", source, digest)

    with cf.ThreadPoolExecutor(16) as pool:
        list(pool.map(put, sources))

    index = stores[0].index()
    assert len(index) == len(archived(stores[0])) == 40 and not leftovers(stores[0])
    for name, entry in index.items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == entry["sha256"]


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from api.archive.folder import FolderStore
    from tests.test_folder_store import planned_put

    root, scratch = Path(sys.argv[1]), Path(sys.argv[2])
    store = FolderStore(root, compact_at=1_500)  # compacts every ~10 puts
    for number in range(10_000):
        inv, content, digest = planned_put(number)
        source = scratch / "download.tmp"
        source.write_bytes(content)
        store.put(inv, "pdf", source, digest)
        print(number, flush=True)  # this put returned
    """
)


def planned_put(number: int) -> tuple[Invoice, bytes, str]:
    """The killed writer's puts: 30 ids over 12 months, each re-issued every 60 puts."""
    inv = invoice(number % 12 + 1, invoice_id=f"N-{number % 30}")
    content = f"{inv.period} {inv.invoice_id} issue {number // 60}".encode() * 200
    return inv, content, hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize(
    ("puts", "pause"),
    [(3, 0.0), (5, 0.0005), (9, 0.001), (12, 0.0015), (14, 0.002), (18, 0.003), (25, 0.004)],
)
def test_a_killed_writer_never_loses_a_returned_put_nor_makes_a_second_copy(
    tmp_path: Path, puts: int, pause: float
) -> None:
    root, scratch = tmp_path / "archive", tmp_path / "scratch"
    scratch.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(root), str(scratch)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    for _ in range(puts):  # let some puts return, then kill it somewhere inside the next ones
        child.stdout.readline()
    time.sleep(pause)
    os.kill(child.pid, signal.SIGKILL)
    done = puts + len(child.communicate()[0].splitlines())
    store = FolderStore(root)
    name = {n: store.path_for(planned_put(n)[0], "pdf").relative_to(root).as_posix()
            for n in range(done + 1)}  # fmt: skip
    expected = {name[n]: planned_put(n)[2] for n in range(done)}  # the last returned put wins
    in_flight = (name[done], planned_put(done)[2])

    index = store.index()
    for file, digest in expected.items():  # a put that returned is on disk and tagged...
        assert index[file]["sha256"] == digest or (file, index[file]["sha256"]) == in_flight
    for file, entry in index.items():  # ...and every tag describes the file that is there
        assert hashlib.sha256((root / file).read_bytes()).hexdigest() == entry["sha256"]
    untagged = {p.relative_to(root).as_posix() for p in archived(store)} - set(index)
    assert untagged <= {in_flight[0]}  # renamed into place, killed before its tag

    # The next run puts the in-flight file again: tagged, no second copy, nothing left over.
    inv, content, digest = planned_put(done)
    source, _ = document(scratch, content, "again.tmp")
    store.put(inv, "pdf", source, digest)
    assert {p.relative_to(root).as_posix() for p in archived(store)} == set(store.index())
    assert len(archived(store)) == len(set(name.values()))
