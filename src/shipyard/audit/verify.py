"""Walking the chain: the first record that was edited, deleted or cut off, and why.

A record whose stored hash differs from the recomputed one was edited. A seq that skips, or a
``prev_hash`` that is not the previous record's hash, means records were deleted (or re-chained).
The head anchor (``audit_head``) names the last seq and hash: a chain that ends before it lost its
newest records. Deleting records *and* rewriting the anchor consistently is not detected; export
the head seq and hash (``shipyard audit verify --json``) somewhere else to guard against that too.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from shipyard.audit.chain import GENESIS, HASHED_FIELDS, record_hash
from shipyard.audit.log import HEAD_ID, head_t, records_t
from shipyard.audit.model import ChainReport

BATCH = 1000


def verify_chain(conn: Connection) -> ChainReport:
    head = conn.execute(select(head_t.c.seq, head_t.c.hash).where(head_t.c.id == HEAD_ID)).first()
    head_seq = 0 if head is None else int(head.seq)
    head_hash = None if head is None else str(head.hash)
    prev_seq, prev_hash, count = 0, GENESIS, 0
    after = 0
    while True:
        rows = conn.execute(
            select(records_t).where(records_t.c.seq > after).order_by(records_t.c.seq).limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            count += 1
            seq = int(row.seq)

            def broken(at: int, reason: str, count: int = count) -> ChainReport:
                return ChainReport(False, count, head_seq, at, reason, head_hash)

            if seq != prev_seq + 1:
                missing = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1}-{seq - 1}"
                return broken(
                    prev_seq + 1,
                    f"deleted: record {missing} is missing (seq jumps from {prev_seq} to {seq})",
                )
            if row.prev_hash != prev_hash:
                return broken(
                    seq,
                    f"deleted or re-chained: record {seq}'s prev_hash does not match the hash of "
                    f"record {prev_seq}",
                )
            fields = {name: getattr(row, name) for name in HASHED_FIELDS}
            if record_hash(prev_hash, fields) != row.hash:
                return broken(seq, f"edited: record {seq}'s content does not match its hash")
            prev_seq, prev_hash = seq, row.hash
        after = prev_seq
    if head is None:
        if count:
            return ChainReport(False, count, 0, 1, "head anchor missing: the audit_head row was deleted")
        return ChainReport(True, 0, 0)
    if prev_seq < head_seq:
        return ChainReport(
            False,
            count,
            head_seq,
            prev_seq + 1,
            f"deleted: records {prev_seq + 1}-{head_seq} are missing (the chain ends at {prev_seq}, "
            f"the head anchor says {head_seq})",
            head_hash,
        )
    if prev_seq > head_seq:
        return ChainReport(
            False,
            count,
            head_seq,
            head_seq + 1,
            f"not anchored: records {head_seq + 1}-{prev_seq} lie past the head anchor ({head_seq}); "
            "they were added, or the anchor rolled back, outside an append",
            head_hash,
        )
    if prev_hash != head.hash:
        return ChainReport(
            False,
            count,
            head_seq,
            head_seq,
            f"head anchor mismatch: record {head_seq}'s hash is not the one the anchor holds",
            head_hash,
        )
    return ChainReport(True, count, head_seq, head_hash=head_hash)
