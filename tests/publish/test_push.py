"""The push step against ``HfApi`` specced from the installed huggingface_hub (tests cannot reach the Hub): a
method or keyword the real client does not have fails the test. Order of calls, arguments, token handling, and
resuming a failed upload with ``legodata push`` (the installed huggingface_hub's upload_folder resumes when called
again with the same arguments; its upload_large_folder is gone)."""

import json
import types
from unittest import mock

import pytest
from support.publish_stores import build_store
from typer.testing import CliRunner

from legodata.cli import app
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
    shards = sorted(json.loads((tmp_path / "out" / "publish.json").read_text())["files"])
    assert shards and all(s.startswith("data/") for s in shards)
    api.upload_folder.assert_called_once_with(
        repo_id="me/lego",
        repo_type="dataset",
        folder_path=str(tmp_path / "out"),
        commit_message=f"legodata publish ({tag})",
        allow_patterns=[*shards, "README.md", "preview.png", "publish.json"],
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
    out = tmp_path / "out"
    assert message == (
        "push to me/lego failed: 403 Forbidden: you cannot write to me/lego. (the folder "
        f"{out} is complete: `legodata push {out} --repo-id me/lego` resumes the upload)"
    )
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


def test_an_interrupted_upload_resumes_with_legodata_push(tmp_path, monkeypatch, capsys, hf_api):
    """A dropped connection mid-upload: one line naming the resume command; running it makes the same upload call
    (which the real client resumes) and tags the commit as the publish would have."""
    monkeypatch.setenv("HF_TOKEN", SECRET)
    api = hf_api.return_value
    api.upload_folder.side_effect = [httpx2.ConnectError("connection reset by peer"), types.SimpleNamespace(oid="d1")]
    store = build_store(tmp_path / "store", scenes=2)
    out = tmp_path / "out"
    with pytest.raises(LegodataError, match="connection reset by peer") as info:
        publish([store.root], out, repo_id="me/lego", push=True, split="1,0,0")
    assert f"`legodata push {out} --repo-id me/lego` resumes the upload" in str(info.value)
    api.create_tag.assert_not_called()
    fingerprint = json.loads((out / "publish.json").read_text())["fingerprint"]

    result = CliRunner().invoke(app, ["push", str(out), "--repo-id", "me/lego"])
    assert result.exit_code == 0, result.output
    first, second = api.upload_folder.call_args_list
    assert first == second  # the same files, so the client skips what it committed
    api.create_tag.assert_called_once_with(
        "me/lego", tag=f"v{fingerprint[:12]}", repo_type="dataset", revision="d1", exist_ok=True
    )
    assert f"pushed to https://huggingface.co/datasets/me/lego@v{fingerprint[:12]}" in result.output
    assert SECRET not in result.output + capsys.readouterr().err


def test_only_the_published_files_are_uploaded(tmp_path, monkeypatch, hf_api):
    """Files that are not the publish's (an upload tool's .cache/huggingface, a stray note) stay out of the dataset:
    the allow-list, applied by the client's own pattern filter to the folder, keeps exactly the published files."""
    from huggingface_hub.utils import filter_repo_objects

    monkeypatch.setenv("HF_TOKEN", SECRET)
    store = build_store(tmp_path / "store", scenes=2)
    out = tmp_path / "out"
    publish([store.root], out, split="1,0,0")
    published = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    (out / ".cache" / "huggingface" / "upload" / "data").mkdir(parents=True)
    (out / ".cache" / "huggingface" / "upload" / "data" / "x.parquet.metadata").write_text("resume state")
    (out / "data" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["push", str(out), "--repo-id", "me/lego", "--tag", "v2", "--private"])
    assert result.exit_code == 0, result.output
    kwargs = hf_api.return_value.upload_folder.call_args.kwargs
    on_disk = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert sorted(filter_repo_objects(on_disk, allow_patterns=kwargs["allow_patterns"])) == published
    assert hf_api.return_value.create_repo.call_args.kwargs["private"] is True
    assert hf_api.return_value.create_tag.call_args.kwargs["tag"] == "v2"


def test_push_refuses_a_folder_that_is_not_a_complete_publish(tmp_path, monkeypatch, hf_api):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    store = build_store(tmp_path / "store", scenes=1)
    out = tmp_path / "out"
    publish([store.root], out, split="1,0,0")
    shard = next((out / "data" / "scenes").glob("*.parquet"))
    shard.write_bytes(shard.read_bytes()[:-10])
    result = CliRunner().invoke(app, ["push", str(out), "--repo-id", "me/lego"])
    assert isinstance(result.exception, LegodataError)  # the CLI's entry point prints it as one line
    assert f"data/scenes/{shard.name} is missing or changed since publishing" in str(result.exception)
    hf_api.assert_not_called()
    result = CliRunner().invoke(app, ["push", str(tmp_path / "store"), "--repo-id", "me/lego"])
    assert isinstance(result.exception, LegodataError)
    assert "not a folder made by `legodata publish`" in str(result.exception)
