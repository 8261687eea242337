"""The push step against ``HfApi`` specced from the installed huggingface_hub (tests cannot reach the Hub): a
method or keyword the real client does not have fails the test. Order of calls, arguments, token handling."""

import types
from unittest import mock

import pytest
from support.publish_stores import build_store

from legodata.errors import LegodataError
from legodata.publish import publish

hub = pytest.importorskip("huggingface_hub")
httpx2 = pytest.importorskip("httpx2")  # what huggingface_hub's errors are built on

SECRET = "hf_secret_token_do_not_print"


@pytest.fixture
def hf_api(monkeypatch):
    """``huggingface_hub.HfApi`` replaced by an autospec of the real class: the instance ``push`` creates is
    ``hf_api.return_value``; calls with a wrong name or keyword raise as the real client would."""
    api_class = mock.create_autospec(hub.HfApi)
    api = api_class.return_value
    api.create_repo.return_value = hub.RepoUrl("https://huggingface.co/datasets/me/lego")
    api.upload_folder.return_value = types.SimpleNamespace(oid="abc123")
    monkeypatch.setattr(hub, "HfApi", api_class)
    return api_class


def test_the_spec_rejects_what_the_real_client_would():
    api = mock.create_autospec(hub.HfApi)(token="t")
    with pytest.raises(TypeError):
        api.create_repo("me/lego", repo_typ="dataset")
    with pytest.raises(TypeError):
        api.upload_folder("me/lego", folder_path=".")  # keyword-only in the real client
    with pytest.raises(AttributeError):
        api.upload_directory(repo_id="me/lego")


def test_push_creates_repo_uploads_folder_and_tags(tmp_path, monkeypatch, capsys, hf_api):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    store = build_store(tmp_path / "store", scenes=2)
    summary = publish([store.root], tmp_path / "out", repo_id="me/lego", push=True, split="1,0,0")
    tag = f"v{summary.fingerprint[:12]}"
    assert hf_api.mock_calls[0] == mock.call(token=SECRET)
    api = hf_api.return_value
    assert [c[0] for c in api.method_calls] == ["create_repo", "upload_folder", "create_tag"]
    api.create_repo.assert_called_once_with("me/lego", repo_type="dataset", private=False, exist_ok=True)
    api.upload_folder.assert_called_once_with(
        repo_id="me/lego",
        repo_type="dataset",
        folder_path=str(tmp_path / "out"),
        commit_message=f"legodata publish ({tag})",
        delete_patterns=["data/**"],
    )
    api.create_tag.assert_called_once_with("me/lego", tag=tag, repo_type="dataset", revision="abc123", exist_ok=True)
    assert summary.pushed == f"https://huggingface.co/datasets/me/lego@{tag}"
    assert "me/lego" in (tmp_path / "out" / "README.md").read_text()
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err


def test_private_and_tag_reach_the_hub(tmp_path, monkeypatch, hf_api):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    store = build_store(tmp_path / "store", scenes=1)
    publish([store.root], tmp_path / "out", repo_id="me/lego", push=True, split="1,0,0", private=True, tag="v1.0")
    api = hf_api.return_value
    assert api.create_repo.call_args.kwargs["private"] is True
    assert api.create_tag.call_args.kwargs["tag"] == "v1.0"


def test_a_hub_error_is_one_line_without_the_token(tmp_path, monkeypatch, hf_api):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    request = httpx2.Request("POST", "https://huggingface.co/api/datasets/me/lego/commit/main")
    response = httpx2.Response(403, request=request)
    error = hub.errors.HfHubHTTPError("403 Forbidden: you cannot write to me/lego.\nRequest id: 1", response=response)
    hf_api.return_value.upload_folder.side_effect = error
    store = build_store(tmp_path / "store", scenes=1)
    with pytest.raises(LegodataError) as info:
        publish([store.root], tmp_path / "out", repo_id="me/lego", push=True, split="1,0,0")
    message = str(info.value)
    assert message == "push to me/lego failed: 403 Forbidden: you cannot write to me/lego."
    assert SECRET not in message
    hf_api.return_value.create_tag.assert_not_called()  # nothing is tagged after a failed upload
    assert (tmp_path / "out" / "README.md").is_file()  # the local folder stays complete


def test_push_without_a_token_is_a_one_line_error(tmp_path, monkeypatch, hf_api):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hub, "get_token", lambda: None)
    store = build_store(tmp_path / "store", scenes=1)
    with pytest.raises(LegodataError, match="HF_TOKEN"):
        publish([store.root], tmp_path / "out", repo_id="me/lego", push=True)
    assert not (tmp_path / "out").exists()  # checked before anything is written
    hf_api.assert_not_called()
