"""The evstore SQLite extension driven from Python's standard sqlite3 module.

Run by tests/test_python.sh as
    /usr/bin/python3 tests/python/test_inbox.py /abs/path/to/build/evstore
(the extension path without the .so suffix). Prints one "PASS name" or
"FAIL name: why" line per check; exits 1 if any check failed.

A consumer's life: 10,000 events from several sources (some carrying
idempotency keys, some of them repeated), read page by page with the
cursor column, each page acknowledged; every event must be seen exactly
once with its payload. Then: counts, a second connection of the same
process sharing the store, and another process locked out while this one
has the store open.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import traceback

SO = sys.argv[1] if len(sys.argv) > 1 else None
SQLITE3_CLI = "/usr/bin/sqlite3"
N = 10_000
PAGE = 100
SOURCES = ["stripe", "github", "shopify", "cron", "mail"]
TYPES = ["created", "updated", "deleted"]
PRIORITIES = ["low", "normal", "high", None]

failed = 0


def check(name):
    """Decorator: run a check, print PASS/FAIL, keep going after a failure."""
    def wrap(fn):
        global failed
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - report any failure
            failed += 1
            msg = f"{type(e).__name__}: {e}".replace("\n", " ")
            print(f"FAIL py_{name}: {msg}")
            traceback.print_exc(file=sys.stdout)
        else:
            print(f"PASS py_{name}")
        sys.stdout.flush()
        return fn
    return wrap


def connect(path):
    con = sqlite3.connect(path, isolation_level=None)  # autocommit; explicit BEGIN
    con.enable_load_extension(True)
    con.load_extension(SO)
    con.enable_load_extension(False)
    return con


def event(i):
    """The i-th event (0-based): source, type, payload, priority, key."""
    src = SOURCES[i % len(SOURCES)]
    payload = json.dumps({"i": i, "src": src, "text": f"event {i} \u00e9\u2603",
                          "pad": "x" * (i % 50) * (40 if i % 97 == 0 else 1)},
                         separators=(",", ":"))
    key = f"key-{i}" if i % 3 == 0 else None
    return src, TYPES[i % len(TYPES)], payload, PRIORITIES[i % len(PRIORITIES)], key


tmp = tempfile.mkdtemp(prefix="evs-py-")
db_path = os.path.join(tmp, "inbox.db")
state = {}  # ids and payloads learned by earlier checks


@check("load_extension")
def _():
    assert SO, "usage: test_inbox.py /path/to/build/evstore"
    con = connect(db_path)
    con.execute("CREATE VIRTUAL TABLE inbox USING evstore")
    state["con"] = con
    assert os.path.isdir(db_path + "-inbox.evstore"), os.listdir(tmp)


@check("insert_10000")
def _():
    con = state["con"]
    ids = {}
    con.execute("BEGIN")
    for i in range(N):
        cur = con.execute(
            "INSERT INTO inbox(source, event_type, payload, priority, idempotency_key)"
            " VALUES (?, ?, ?, ?, ?)", event(i))
        ids[i] = cur.lastrowid
    con.execute("COMMIT")
    assert sorted(ids.values()) == list(range(1, N + 1)), "ids are not 1..N"
    assert all(ids[i] == i + 1 for i in range(N)), "ids not in insertion order"
    state["payload_of"] = {ids[i]: event(i)[2] for i in range(N)}
    state["source_of"] = {ids[i]: event(i)[0] for i in range(N)}
    n, = con.execute("SELECT count(*) FROM inbox").fetchone()
    assert n == N, n


@check("duplicate_keys")
def _():
    con = state["con"]
    # Repeat some keys (with other payloads): nothing stored, original id.
    for i in (0, 3, 999, 4998, 9999):
        src, typ, _, pri, key = event(i)
        assert key is not None, i
        cur = con.execute(
            "INSERT INTO inbox(source, event_type, payload, priority, idempotency_key)"
            " VALUES (?, ?, ?, ?, ?)", (src, typ, '{"dup":true}', pri, key))
        assert cur.lastrowid == i + 1, (i, cur.lastrowid)
        assert cur.rowcount == 1, (i, cur.rowcount)
        rid, = con.execute("SELECT last_insert_rowid()").fetchone()
        assert rid == i + 1, (i, rid)
        # OR IGNORE tells a duplicate apart: no row changed.
        cur = con.execute(
            "INSERT OR IGNORE INTO inbox(source, event_type, payload, priority, idempotency_key)"
            " VALUES (?, ?, ?, ?, ?)", (src, typ, '{"dup":true}', pri, key))
        assert cur.rowcount == 0, (i, cur.rowcount)
    # Also inside one executemany / one transaction.
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES (?, ?, ?, ?)",
        [("stripe", "created", '{"dup":2}', f"key-{i}") for i in range(0, 300, 3)])
    cur = con.executemany(
        "INSERT OR IGNORE INTO inbox(source, event_type, payload, idempotency_key)"
        " VALUES (?, ?, ?, ?)",
        [("stripe", "created", '{"dup":3}', f"key-{i}") for i in range(0, 300, 3)])
    assert cur.rowcount == 0, cur.rowcount
    con.execute("COMMIT")
    n, = con.execute("SELECT count(*) FROM inbox").fetchone()
    assert n == N, n
    p, = con.execute("SELECT payload FROM inbox WHERE id = 4").fetchone()
    assert p == event(3)[2], p


@check("errors_raise")
def _():
    con = state["con"]
    cases = [
        (("stripe", "created", "not json", None, None), "payload: invalid JSON at byte 0"),
        (("", "created", "{}", None, None), "source is empty"),
        (("stripe", "created", "{}", "urgent", None),
         "priority must be 'low', 'normal' or 'high', not 'urgent'"),
        ((1, "created", "{}", None, None), "source must be TEXT"),
    ]
    for row, msg in cases:
        try:
            con.execute("INSERT INTO inbox(source, event_type, payload, priority, idempotency_key)"
                        " VALUES (?, ?, ?, ?, ?)", row)
        except sqlite3.Error as e:
            assert msg in str(e), (str(e), msg)
        else:
            raise AssertionError(f"no error for {row!r}")
    try:
        con.execute("SELECT id FROM inbox WHERE status = 'pending' AND cursor = ?",
                    ("nope",)).fetchall()
    except sqlite3.Error as e:
        assert "evstore: malformed cursor" in str(e), str(e)
    else:
        raise AssertionError("no error for a bad cursor")
    n, = con.execute("SELECT count(*) FROM inbox").fetchone()
    assert n == N, n


def page_through(con, source, ack_with_executemany):
    """Read all pending events (of one source, or all), acking each page."""
    where = "status = 'pending'" + (" AND source = ?" if source else "")
    args = (source,) if source else ()
    sql_first = f"SELECT id, payload, cursor FROM inbox WHERE {where} ORDER BY id LIMIT {PAGE}"
    sql_next = (f"SELECT id, payload, cursor FROM inbox WHERE {where} AND cursor = ?"
                f" ORDER BY id LIMIT {PAGE}")
    plan = " ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql_next, args + ("x",)))
    want = "status= source= cursor= asc limit" if source else "status= cursor= asc limit"
    assert want in plan, plan
    seen = []
    rows = con.execute(sql_first, args).fetchall()
    pages = 0
    while rows:
        pages += 1
        assert len(rows) <= PAGE
        ids = [r[0] for r in rows]
        assert ids == sorted(ids), "page not in id order"
        seen.extend((r[0], r[1]) for r in rows)
        con.execute("BEGIN")
        if ack_with_executemany:
            con.executemany("UPDATE inbox SET status = 'acknowledged' WHERE id = ?",
                            [(i,) for i in ids])
        else:
            con.execute("UPDATE inbox SET status = 'acknowledged' WHERE id IN (%s)"
                        % ",".join("?" * len(ids)), ids)
        con.execute("COMMIT")
        rows = con.execute(sql_next, args + (rows[-1][2],)).fetchall()
    return seen, pages


@check("page_and_ack")
def _():
    con = state["con"]
    seen = []
    # Two sources page with a source filter (one acks with IN (...), one
    # with executemany), then the rest with the status filter alone.
    s1, p1 = page_through(con, "stripe", False)
    s2, p2 = page_through(con, "github", True)
    s3, p3 = page_through(con, None, False)
    seen = s1 + s2 + s3
    assert p1 == 20 and p2 == 20 and p3 == 60, (p1, p2, p3)
    assert {state["source_of"][i] for i, _ in s1} == {"stripe"}
    assert {state["source_of"][i] for i, _ in s2} == {"github"}
    assert not {state["source_of"][i] for i, _ in s3} & {"stripe", "github"}
    ids = [i for i, _ in seen]
    assert len(ids) == N, len(ids)
    assert len(set(ids)) == N, "some event seen twice"
    assert set(ids) == set(state["payload_of"]), "some event never seen"
    bad = [i for i, p in seen if p != state["payload_of"][i]]
    assert not bad, f"wrong payload for ids {bad[:5]}"


@check("counts_after_ack")
def _():
    con = state["con"]
    rows = dict(con.execute("SELECT status, count(*) FROM inbox GROUP BY status").fetchall())
    assert rows == {"acknowledged": N}, rows
    pend, = con.execute("SELECT count(*) FROM inbox WHERE status = 'pending'").fetchone()
    assert pend == 0, pend
    st = json.loads(con.execute("SELECT evstore_stats('inbox')").fetchone()[0])
    assert st["pending"] == 0 and st["acknowledged"] == N and st["next_id"] == N + 1, st
    n, = con.execute("SELECT count(*) FROM inbox WHERE acknowledged_at IS NULL").fetchone()
    assert n == 0, n
    # Acking again is an error naming the event.
    try:
        con.execute("UPDATE inbox SET status = 'acknowledged' WHERE id = 5")
    except sqlite3.IntegrityError as e:
        assert "event 5 is already acknowledged" in str(e), str(e)
    else:
        raise AssertionError("re-ack did not fail")


@check("second_connection_shares_store")
def _():
    con = state["con"]
    con2 = connect(db_path)
    state["con2"] = con2
    n, acked = con2.execute(
        "SELECT count(*), sum(status = 'acknowledged') FROM inbox").fetchone()
    assert (n, acked) == (N, N), (n, acked)
    # A write on one is seen by the other.
    cur = con2.execute("INSERT INTO inbox(source, event_type, payload) VALUES ('late', 'x', '{\"late\":1}')")
    new_id = cur.lastrowid
    assert new_id == N + 1, new_id
    row = con.execute("SELECT id, status, payload FROM inbox WHERE status = 'pending'").fetchall()
    assert row == [(N + 1, "pending", '{"late":1}')], row
    con.execute("UPDATE inbox SET status = 'acknowledged' WHERE id = ?", (new_id,))
    st, = con2.execute("SELECT status FROM inbox WHERE id = ?", (new_id,)).fetchone()
    assert st == "acknowledged", st
    # Uncommitted writes stay invisible to the other connection.
    con2.execute("BEGIN")
    con2.execute("INSERT INTO inbox(source, event_type, payload) VALUES ('late', 'x', '{\"late\":2}')")
    n1, = con.execute("SELECT count(*) FROM inbox").fetchone()
    n2, = con2.execute("SELECT count(*) FROM inbox").fetchone()
    con2.execute("ROLLBACK")
    assert (n1, n2) == (N + 1, N + 2), (n1, n2)


def run_cli(sql):
    return subprocess.run([SQLITE3_CLI, db_path], input=f".load {SO}\n{sql}\n",
                          capture_output=True, text=True, timeout=60, cwd=tmp)


@check("other_process_locked")
def _():
    # This process still has the table connected (state["con"]).
    state["con"].execute("SELECT count(*) FROM inbox").fetchone()
    r = run_cli("SELECT count(*) FROM inbox;")
    out = r.stdout + r.stderr
    assert "locked" in out, out
    assert "another process" in out, out
    assert str(N + 1) not in r.stdout, out


@check("other_process_after_close")
def _():
    state.pop("con2").close()
    state.pop("con").close()
    r = run_cli("SELECT count(*), sum(status = 'acknowledged') FROM inbox;")
    assert r.stdout.strip() == f"{N + 1}|{N + 1}", (r.stdout, r.stderr)
    assert r.stderr == "", r.stderr


@check("reopen_in_process")
def _():
    con = connect(db_path)
    n, = con.execute("SELECT count(*) FROM inbox WHERE status = 'acknowledged'").fetchone()
    assert n == N + 1, n
    # Keys survive the reopen.
    cur = con.execute("INSERT INTO inbox(source, event_type, payload, idempotency_key)"
                      " VALUES ('stripe', 'created', '{}', 'key-9999')")
    assert cur.lastrowid == 10000, cur.lastrowid
    con.execute("DROP TABLE inbox")
    con.close()
    assert not os.path.exists(db_path + "-inbox.evstore"), os.listdir(tmp)


@check("consumers_claim_and_ack")
def _():
    # Two connections (two workers of one process) share one store: claims
    # never hand an event to both; each is acknowledged once, with its token.
    path = os.path.join(tmp, "work.db")
    a, b = connect(path), connect(path)
    a.execute("CREATE VIRTUAL TABLE work USING evstore(max_deliveries=3)")
    a.executemany("INSERT INTO work(source, event_type, payload) VALUES ('s', 't', ?)",
                  [(json.dumps({"n": i}),) for i in range(500)])
    b.execute("SELECT count(*) FROM work").fetchone()  # b's table is connected
    seen = []
    while True:
        got = 0
        for con, who in ((a, "a"), (b, "b")):
            rows = con.execute("SELECT id, lease_token, leased_by, delivery_count, status"
                               " FROM evstore_claim('work', ?, 37, '1m')", (who,)).fetchall()
            got += len(rows)
            for i, tok, by, n, st in rows:
                assert (by, n, st) == (who, 1, "leased"), (by, n, st)
                cur = con.execute("UPDATE work SET status = 'acknowledged'"
                                  " WHERE id = ? AND lease_token = ?", (i, tok))
                assert cur.rowcount == 1, (i, cur.rowcount)
                # The same token again: the event is no longer leased.
                cur = con.execute("UPDATE work SET status = 'acknowledged'"
                                  " WHERE id = ? AND lease_token = ?", (i, tok))
                assert cur.rowcount == 0, (i, cur.rowcount)
                seen.append(i)
        if not got:
            break
    assert sorted(seen) == list(range(1, 501)), (len(seen), len(set(seen)))
    # A stale token through the functions is an error with the library's text.
    a.execute("INSERT INTO work(source, event_type, payload) VALUES ('s', 't', '{}')")
    (i, tok), = a.execute("SELECT id, lease_token FROM evstore_claim('work', 'a')").fetchall()
    try:
        a.execute("SELECT evstore_release('work', ?, ?)", (i, tok + 1)).fetchone()
    except sqlite3.OperationalError as e:
        assert "not its current one" in str(e), e
    else:
        raise AssertionError("a stale token was accepted")
    assert a.execute("SELECT evstore_reject('work', ?, ?)", (i, tok)).fetchone() == (1,)
    assert a.execute("SELECT id FROM work WHERE status = 'dead'").fetchall() == [(i,)]
    assert a.execute("SELECT evstore_redrive('work')").fetchone() == (1,)
    b.close()  # DROP deletes the store only when no other connection uses it
    a.execute("DROP TABLE work")
    a.close()
    assert not os.path.exists(path + "-work.evstore"), os.listdir(tmp)


shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if failed else 0)
