"""The push step against a fake Hub (tests cannot reach the real one): order of calls, token handling."""

import types

import pytest
from support.publish_stores import build_store

from legodata.errors import LegodataError
from legodata.publish import publish

hub = pytest.importorskip("huggingface_hub")

SECRET = "hf_secret_token_do_not_print"


class FakeApi:
    calls: list = []

    def __init__(self, token=None):
        FakeApi.calls.append(("init", token))

    def create_repo(self, repo_id, **kw):
        FakeApi.calls.append(("create_repo", repo_id, kw))
        return f"https://huggingface.co/datasets/{repo_id}"

    def upload_folder(self, **kw):
        FakeApi.calls.append(("upload_folder", kw))
        return types.SimpleNamespace(oid="abc123")

    def create_tag(self, repo_id, **kw):
        FakeApi.calls.append(("create_tag", repo_id, kw))


def test_push_creates_repo_uploads_folder_and_tags(tmp_path, monkeypatch, capsys):
    FakeApi.calls = []
    monkeypatch.setattr(hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    store = build_store(tmp_path / "store", scenes=2)
    summary = publish([store.root], tmp_path / "out", repo_id="me/lego", push=True, split="1,0,0")
    names = [c[0] for c in FakeApi.calls]
    assert names == ["init", "create_repo", "upload_folder", "create_tag"]
    assert FakeApi.calls[0][1] == SECRET
    assert FakeApi.calls[1][2]["repo_type"] == "dataset"
    upload = FakeApi.calls[2][1]
    assert upload["folder_path"] == str(tmp_path / "out") and upload["delete_patterns"] == ["data/**"]
    tag = FakeApi.calls[3][2]
    assert tag["revision"] == "abc123" and tag["tag"] == f"v{summary.fingerprint[:12]}"
    assert summary.pushed == f"https://huggingface.co/datasets/me/lego@v{summary.fingerprint[:12]}"
    assert "me/lego" in (tmp_path / "out" / "README.md").read_text()
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err


def test_push_without_a_token_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hub, "get_token", lambda: None)
    store = build_store(tmp_path / "store", scenes=1)
    with pytest.raises(LegodataError, match="HF_TOKEN"):
        publish([store.root], tmp_path / "out", repo_id="me/lego", push=True)
    assert not (tmp_path / "out").exists()  # checked before anything is written
