"""The one declarative base of the metadata database. Every domain's ``tables.py`` subclasses
:class:`Base`, so there is one ``MetaData`` and one Alembic tree."""

from __future__ import annotations

from typing import cast

from sqlalchemy import BigInteger, MetaData, Table
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {int: BigInteger}


def table(model: type[Base]) -> Table:
    """The Core table of a mapped class (typed: ``Model.__table__`` is declared as a FromClause)."""
    return cast(Table, model.__table__)
