"""Registry use cases: models, versions, lifecycle, aliases, tags, gate policies, approvals,
comparison, model cards and loading. One transaction per call; every mutation appends an audit
record in that transaction. The rules live in use-case modules: :mod:`.versions` (creating),
:mod:`.lifecycle` (legal moves, one production version, rollback), :mod:`.labels` (aliases, tags),
:mod:`.promotion` and :mod:`.gates` (policies and measurements), :mod:`.approvals`,
:mod:`.compare` and :mod:`.cards`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pandas as pd
from sqlalchemy import select, update

from shipyard.audit import log as audit
from shipyard.core.clock import now_ms
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.events import log as event_log
from shipyard.packaging.package import LoadedModel, load_verified, read_manifest
from shipyard.packaging.signature import Signature
from shipyard.registry import (
    approvals,
    cards,
    compare,
    gates,
    labels,
    lifecycle,
    promotion,
    records,
    versions,
)
from shipyard.registry.api import RegistryAPI
from shipyard.registry.entities import (
    Approval,
    GatePolicy,
    GateReport,
    GateResult,
    ModelVersion,
    RegisteredModel,
    Stage,
    Transition,
    VersionComparison,
)
from shipyard.registry.events import AliasRemoved, AliasSet, ModelRolledBack, VersionRegistered
from shipyard.registry.ports import RunLookup, TrainingOrigins
from shipyard.registry.publishing import publish_approval, publish_transition
from shipyard.registry.records import approvals_t, models_t, versions_t
from shipyard.registry.refs import ModelRef, alias_name, model_name, parse_ref, version_number
from shipyard.storage.artifacts.content import ContentStore
from shipyard.storage.metadata.database import Database

_TEXT_LIMIT = 100_000


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) > _TEXT_LIMIT:
        raise InvalidInput(f"{field} must be a string of at most {_TEXT_LIMIT} characters", field=field)
    return value


def _tags(tags: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(tags, Mapping):
        raise InvalidInput("tags must be an object of string -> string", field="tags")
    for key, value in tags.items():
        if not isinstance(key, str) or not key or len(key) > 250:
            raise InvalidInput(f"tag key {key!r} must be a string of 1-250 characters", field="tags")
        if not isinstance(value, str):
            raise InvalidInput(f"tag {key!r} must have a string value, got {value!r}", field=f"tags.{key}")
    return dict(tags)


def _ref(name: str, version: int) -> ModelRef:
    return ModelRef(model_name(name), version_number(version))


class RegistryService(RegistryAPI):
    def __init__(
        self,
        db: Database,
        content: ContentStore,
        runs: RunLookup,
        *,
        trust_pickle: bool = False,
        origins: TrainingOrigins | None = None,
    ) -> None:
        self.db = db
        self.content = content
        self.runs = runs
        self.trust_pickle = trust_pickle
        self.origins = origins

    # -- models ------------------------------------------------------------------------------------
    def create_model(
        self, name: str, description: str = "", allow_multiple_production: bool = False, *, actor: str
    ) -> RegisteredModel:
        name = model_name(name)
        description = _text(description, "description")
        with self.db.write() as conn:
            if not versions.insert_model(
                conn, name, description, bool(allow_multiple_production), actor=actor
            ):
                raise Conflict(f"model {name!r} already exists", field="name")
            return records.to_model(conn, records.model_row(conn, name))

    def get_model(self, name: str) -> RegisteredModel:
        with self.db.read() as conn:
            return records.to_model(conn, records.model_row(conn, model_name(name)))

    def list_models(self) -> list[RegisteredModel]:
        with self.db.read() as conn:
            return records.to_models(conn, list(conn.execute(select(models_t).order_by(models_t.c.name))))

    def update_model(self, name: str, *, description: str | None = None, actor: str) -> RegisteredModel:
        with self.db.write() as conn:
            model = records.model_row(conn, model_name(name), lock=True)
            if description is not None:
                description = _text(description, "description")
                conn.execute(
                    update(models_t)
                    .where(models_t.c.id == model.id)
                    .values(description=description, updated_at=now_ms())
                )
                audit.append(
                    conn,
                    actor=actor,
                    action="model.update",
                    object_type="model",
                    object_id=model.name,
                    before={"description": model.description},
                    after={"description": description},
                )
            return records.to_model(conn, records.model_row(conn, model.name))

    # -- versions ----------------------------------------------------------------------------------
    def create_version(
        self,
        name: str,
        run_id: str,
        artifact_path: str = "model",
        *,
        description: str = "",
        limitations: str = "",
        tags: Mapping[str, str] | None = None,
        actor: str,
    ) -> ModelVersion:
        """Register the run's packaged model ``artifact_path`` as the next version of ``name``
        (the model is created on its first version). Snapshots the run's metrics, params,
        training dataset, feature service and git commit, and the package's signature."""
        name = model_name(name)
        description, limitations = _text(description, "description"), _text(limitations, "limitations")
        clean_tags = _tags(tags or {})
        if not isinstance(run_id, str) or not run_id:
            raise InvalidInput("run_id must be a run id", field="run_id")
        with self.db.shared_read():  # the run's facts and artifact: one snapshot, one transaction
            facts = self.runs.run_facts(run_id)
            digest = self.runs.artifact_digest(run_id, artifact_path)
        try:
            manifest = read_manifest(self.content.read_bytes(digest))
        except InvalidInput as exc:
            raise InvalidInput(
                f"artifact {artifact_path!r} of run {run_id} is not a Shipyard model package "
                f"(log it with run.log_model): {exc}",
                field="artifact_path",
            ) from None
        with self.db.write() as conn:
            try:
                model = records.model_row(conn, name, lock=True)
            except NotFound:  # the first version creates the model (a no-op if another just did)
                versions.insert_model(conn, name, "", False, actor=actor)
                model = records.model_row(conn, name, lock=True)
            values = versions.insert_version(
                conn,
                model,
                facts,
                manifest,
                artifact_path=artifact_path,
                digest=digest,
                description=description,
                limitations=limitations,
                tags=clean_tags,
                actor=actor,
            )
            # What was just written: a new version has no alias yet (versions are never deleted).
            created = records.to_version(SimpleNamespace(**values), model.name, {})
            event_log.publish(conn, VersionRegistered(model.name, created.version, run_id), actor=actor)
            return created

    def get_version(self, name: str, version: int) -> ModelVersion:
        return self.resolve(_ref(name, version))

    def resolve(self, ref: str | ModelRef) -> ModelVersion:
        """The version ``churn/3``, ``churn@champion`` or ``churn@production`` names."""
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        with self.db.read() as conn:
            model, row = records.resolve(conn, parsed)
            return records.load_version(conn, model, row)

    def list_versions(self, name: str, stage: Stage | str | None = None) -> list[ModelVersion]:
        with self.db.read() as conn:
            model = records.model_row(conn, model_name(name))
            query = select(versions_t).where(versions_t.c.model_id == model.id)
            if stage is not None:
                query = query.where(versions_t.c.stage == Stage.parse(stage).value)
            aliases = records.aliases_of(conn, model.id)
            rows = conn.execute(query.order_by(versions_t.c.version))
            return [records.to_version(r, model.name, aliases) for r in rows]

    def update_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        limitations: str | None = None,
        actor: str,
    ) -> ModelVersion:
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = _text(description, "description")
        if limitations is not None:
            values["limitations"] = _text(limitations, "limitations")
        with self.db.write() as conn:
            model, row = records.resolve(conn, _ref(name, version), lock=True)
            if values:
                conn.execute(
                    update(versions_t).where(versions_t.c.id == row.id).values(**values, updated_at=now_ms())
                )
                audit.append(
                    conn,
                    actor=actor,
                    action="version.update",
                    object_type="model_version",
                    object_id=f"{model.name}/{row.version}",
                    before={k: getattr(row, k) for k in values},
                    after=values,
                )
            return records.load_version(conn, model, records.version_row(conn, model, row.version))

    # -- aliases and tags --------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int, *, actor: str) -> ModelVersion:
        alias = alias_name(alias)
        if alias in records.STAGE_REFS:
            raise InvalidInput(f"alias {alias!r} is reserved: NAME@{alias} names the stage", field="alias")
        with self.db.write() as conn:
            model, row = records.resolve(conn, _ref(name, version), lock=True)
            previous = records.aliases_of(conn, model.id).get(alias)
            labels.set_alias(conn, model, row, alias, actor=actor)
            loaded = records.load_version(conn, model, row)
            event_log.publish(conn, AliasSet(model.name, alias, row.version, previous), actor=actor)
            return loaded

    def delete_alias(self, name: str, alias: str, *, actor: str) -> None:
        with self.db.write() as conn:
            model = records.model_row(conn, model_name(name), lock=True)
            previous = records.aliases_of(conn, model.id).get(alias)
            labels.delete_alias(conn, model, alias, actor=actor)
            if previous is not None:
                event_log.publish(conn, AliasRemoved(model.name, alias, previous), actor=actor)

    def set_tags(self, name: str, tags: Mapping[str, str], *, version: int | None = None, actor: str) -> None:
        """Set tags on the model (``version`` None) or on one version; other tags stay."""
        self._change_tags(name, version, actor, set_=_tags(tags))

    def delete_tag(self, name: str, key: str, *, version: int | None = None, actor: str) -> None:
        self._change_tags(name, version, actor, set_={}, delete=key)

    def _change_tags(
        self, name: str, version: int | None, actor: str, *, set_: dict[str, str], delete: str = ""
    ) -> None:
        with self.db.write() as conn:
            model = records.model_row(conn, model_name(name), lock=True)
            row = None if version is None else records.version_row(conn, model, version_number(version))
            labels.change_tags(conn, model, row, actor=actor, set_=set_, delete=delete)

    # -- lifecycle ---------------------------------------------------------------------------------
    def transition(
        self,
        name: str,
        version: int,
        stage: Stage | str,
        *,
        actor: str,
        comment: str = "",
        expected: Stage | None = None,
    ) -> ModelVersion:
        """Move a version to ``stage``. Illegal moves are a Conflict naming the legal targets; a
        policy covering ``stage`` must be satisfied by the latest stored gate evaluation (Conflict
        naming the failed gate) and, if it asks for one, an approval (PermissionDenied). With
        ``expected``, a version no longer in that stage is a Conflict (the caller decided on it)."""
        target = Stage.parse(stage)
        comment = _text(comment, "comment")
        with self.db.write() as conn:
            model, row = records.resolve(conn, _ref(name, version), lock=True)
            if expected is not None and row.stage != expected:
                raise Conflict(
                    f"{model.name}/{row.version} moved to {row.stage} meanwhile (expected {expected.value})",
                    field="stage",
                )
            lifecycle.check_legal(f"{model.name}/{row.version}", Stage(row.stage), target)
            promotion.enforce(conn, model, row, target)
            displaced = lifecycle.move(conn, model, row, target, actor=actor, comment=comment)
            moved = records.load_version(conn, model, records.version_row(conn, model, row.version))
            publish_transition(conn, model.name, row.version, row.stage, target, displaced, actor=actor)
            return moved

    def rollback(self, name: str, *, actor: str, comment: str = "") -> ModelVersion:
        """Restore the previous production version (see :func:`.lifecycle.rollback`)."""
        with self.db.write() as conn:
            model = records.model_row(conn, model_name(name), lock=True)
            current, restored = lifecycle.rollback(
                conn, model, actor=actor, comment=_text(comment, "comment")
            )
            loaded = records.load_version(conn, model, records.version_row(conn, model, restored))
            event_log.publish(conn, ModelRolledBack(model.name, current, restored), actor=actor)
            return loaded

    def history(self, name: str, version: int | None = None) -> list[Transition]:
        with self.db.read() as conn:
            model = records.model_row(conn, model_name(name))
            return records.transitions(conn, model, None if version is None else version_number(version))

    # -- gate policies and evaluations -------------------------------------------------------------
    def set_policy(
        self, name: str, policy: GatePolicy | Mapping[str, Any] | None, *, actor: str
    ) -> GatePolicy | None:
        """Set (or with None, remove) the model's promotion gate policy."""
        parsed = policy if isinstance(policy, GatePolicy) or policy is None else GatePolicy.from_dict(policy)
        if parsed is not None:
            gates.check_policy(parsed)
        with self.db.write() as conn:
            model = records.model_row(conn, model_name(name), lock=True)
            after = None if parsed is None else parsed.to_dict()
            conn.execute(
                update(models_t)
                .where(models_t.c.id == model.id)
                .values(gate_policy=after, updated_at=now_ms())
            )
            audit.append(
                conn,
                actor=actor,
                action="model.policy",
                object_type="model",
                object_id=model.name,
                before={"policy": model.gate_policy},
                after={"policy": after},
            )
        return parsed

    def get_policy(self, name: str) -> GatePolicy | None:
        with self.db.read() as conn:
            return promotion.policy_of(records.model_row(conn, model_name(name)))

    def evaluate_gates(
        self,
        name: str,
        version: int,
        target_stage: Stage | str,
        eval_df: pd.DataFrame,
        *,
        label: str,
        actor: str,
    ) -> GateReport:
        """Measure the version against the model's policy on ``eval_df`` (which holds the
        ``label`` column and, for fairness, the policy's sensitive column); store and return the
        per-gate results. The champion is the ``champion`` alias, else the production version."""
        target = Stage.parse(target_stage, field="target_stage")
        if not isinstance(eval_df, pd.DataFrame):
            raise InvalidInput("evaluation data must be a pandas DataFrame", field="data")
        with self.db.read() as conn:
            model, row = records.resolve(conn, _ref(name, version))
            policy = promotion.policy_of(model)
            if policy is None:
                raise NotFound(
                    f"model {model.name!r} has no gate policy (set one with set_policy)", field="policy"
                )
            champion = promotion.champion_row(conn, model, row.version)
            approver, pending = approvals.state(conn, model, row.version, target)
        results: list[GateResult] = []
        if policy.needs_evaluation:  # models are loaded outside any transaction
            results = gates.evaluate(
                policy,
                eval_df,
                label=label,
                candidate=self._load_digest(row.artifact_digest),
                signature=Signature.from_dict(row.signature),
                champion=None if champion is None else self._load_digest(champion.artifact_digest),
                champion_ref=None if champion is None else f"{model.name}/{champion.version}",
                validated_by=self._validated_by(row.run_id),
            )
        if policy.require_approval:
            results.append(gates.approval_result(approver, pending))
        with self.db.write() as conn:
            return promotion.store_report(
                conn,
                model,
                row.version,
                target,
                policy,
                results,
                dataset_digest=gates.frame_digest(eval_df),
                actor=actor,
            )

    def gate_reports(self, name: str, version: int | None = None) -> list[GateReport]:
        with self.db.read() as conn:
            model = records.model_row(conn, model_name(name))
            return records.gate_reports(conn, model, None if version is None else version_number(version))

    def _validated_by(self, run_id: str) -> str | None:
        try:
            return self.runs.run_facts(run_id).validated_by
        except NotFound:
            return None

    # -- approvals ---------------------------------------------------------------------------------
    def request_approval(
        self, name: str, version: int, target_stage: Stage | str, *, actor: str, comment: str = ""
    ) -> Approval:
        target = Stage.parse(target_stage, field="target_stage")
        comment = _text(comment, "comment")
        with self.db.write() as conn:
            model, row = records.resolve(conn, _ref(name, version), lock=True)
            lifecycle.check_legal(f"{model.name}/{row.version}", Stage(row.stage), target)
            requested = approvals.request(conn, model, row, target, actor=actor, comment=comment)
            publish_approval(conn, requested, actor=actor)
            return requested

    def decide_approval(
        self, request_id: str, approve: bool, *, actor: str, comment: str = "", model: str | None = None
    ) -> Approval:
        """Approve or reject a pending request (of ``model``, when given). Deciding your own
        request is PermissionDenied."""
        comment = _text(comment, "comment")
        with self.db.write() as conn:
            row = conn.execute(select(approvals_t).where(approvals_t.c.id == request_id)).first()
            owner = (
                None
                if row is None
                else conn.execute(select(models_t).where(models_t.c.id == row.model_id)).one()
            )
            if owner is None or (model is not None and owner.name != model):
                raise NotFound(f"approval request {request_id!r} does not exist", field="request_id")
            locked = records.model_row(conn, owner.name, lock=True)
            decided = approvals.decide(conn, locked, request_id, bool(approve), actor=actor, comment=comment)
            publish_approval(conn, decided, actor=actor)
            return decided

    def list_approvals(self, name: str, version: int | None = None) -> list[Approval]:
        with self.db.read() as conn:
            model = records.model_row(conn, model_name(name))
            return records.approvals(conn, model, None if version is None else version_number(version))

    # -- comparison, cards, loading ----------------------------------------------------------------
    def compare(self, name: str, left: int, right: int) -> VersionComparison:
        return compare.compare(self.get_version(name, left), self.get_version(name, right))

    def card(self, name: str, version: int) -> tuple[str, str]:
        """The version's model card as (Markdown, HTML)."""
        with self.db.read() as conn:
            model, row = records.resolve(conn, _ref(name, version))
            facts = cards.CardFacts(
                model=records.to_model(conn, model),
                version=records.load_version(conn, model, row),
                transitions=records.transitions(conn, model, row.version),
                approvals=records.approvals(conn, model, row.version),
                gate_reports=records.gate_reports(conn, model, row.version),
            )
        training = facts.version.training_data
        if self.origins is not None and training is not None:
            facts = replace(facts, origin=self.origins.training_origin(training.digest))
        return cards.render(facts)

    def load(self, ref: str | ModelRef) -> LoadedModel:
        """The model a reference names, its bytes verified against the recorded digest."""
        return self._load_digest(self.resolve(ref).artifact_digest)

    def _load_digest(self, digest: str) -> LoadedModel:
        return load_verified(self.content, digest, trust_pickle=self.trust_pickle)
