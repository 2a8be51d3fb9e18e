"""Loading what an Inspector is built from: rule packs, the policy table, limits and the hash key."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from guard.config import Settings
from guard.inspection.audience import AudienceClassifier
from guard.inspection.detect import DetectionEngine
from guard.inspection.extract import Limits
from guard.inspection.ocr import ocr_from_settings
from guard.inspection.phones import engines_for
from guard.inspection.policy import Policy
from guard.inspection.rules import load_detectors, shipped_rules_dir


@dataclass(frozen=True)
class Components:
    """Everything `Inspector.__init__` takes, loaded from the settings."""

    engine: DetectionEngine
    policy: Policy
    audience: AudienceClassifier
    hash_key: bytes
    limits: Limits


def hash_key(settings: Settings, persist: bool = True) -> bytes:
    """The key for finding hashes: from config, else generated once under data_dir
    (`persist=False`, for offline scans: an existing key file or a key for this run only)."""
    if settings.rules.hash_key:
        return settings.rules.hash_key.encode()
    path = settings.data_path / "hash.key"
    if path.exists():
        return path.read_bytes().strip()
    if not persist:
        return secrets.token_hex(32).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def load_components(settings: Settings, *, persist_key: bool = True) -> Components:
    """Rule packs (shipped or configured, plus the local directory), the policy and the key."""
    shipped = shipped_rules_dir()
    paths = [Path(p) for p in settings.rules.paths] or [shipped]
    local = Path(settings.rules.local_dir) if settings.rules.local_dir else None
    detectors = load_detectors(paths, local)
    policy_path = Path(settings.rules.policy) if settings.rules.policy else shipped / "policy.yaml"
    local_policy = local / "policy.yaml" if local is not None else None
    return Components(
        # engines come from guard.inspection.registry; the phone engine searches the org's regions
        engine=DetectionEngine(detectors, engines_for(settings.org.phone_regions)),
        policy=Policy.load(policy_path, local_policy if local_policy and local_policy.exists() else None),
        audience=AudienceClassifier(settings.org.internal_domains),
        hash_key=hash_key(settings, persist_key),
        limits=Limits(max_chars=settings.rules.max_scan_chars, ocr=ocr_from_settings(settings.extract)[0]),
    )


__all__ = ["Components", "hash_key", "load_components"]
