"""The lake mode with its data in a bucket: a real S3-compatible server, moto's, on a free port.

The server checks every request's signature against an IAM user made for the test, as AWS,
MinIO or R2 do, so a wrong secret fails as it would there. One module fixture loads a few raw
tables with the CLI and then builds the whole graph into the same lake (catalog in PostgreSQL,
data at `s3://<bucket>/lake/`); the tests read what landed in the bucket and in the lake.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import dagster as dg
import pytest
import requests

from intercom_pipeline.warehouse import WarehouseError
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.survey_feed import write_demo_survey_feed
from intercom_sandbox.workspace import Workspace
from tests.integration.test_lake import CLI, PROJECT, build_all, lake_env, lake_of
from tests.postgres import PostgresCluster, free_port

BUCKET = "intercom-lake"
PREFIX = "lake/"
REGION = "us-east-1"
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass
class Bucket:
    endpoint_url: str
    key_id: str
    secret: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            region_name=REGION,
        )

    def keys(self) -> list[str]:
        """Every object's key under the lake's prefix."""
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX)
        )
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def env(self, secret: str | None = None) -> dict[str, str]:
        return {
            "DUCKLAKE_DATA_PATH": f"s3://{BUCKET}/{PREFIX}",
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret if secret is None else secret,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }


@pytest.fixture(scope="module")
def bucket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bucket]:
    """moto's server in a process of its own, with a bucket only the test's IAM user may use."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("moto") / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_up(endpoint, server)
        setup = {"endpoint_url": endpoint, "region_name": REGION}
        setup |= {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
        iam = boto3.client("iam", **setup)
        iam.create_user(UserName="lake")
        iam.put_user_policy(UserName="lake", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
        key = iam.create_access_key(UserName="lake")["AccessKey"]
        boto3.client("s3", **setup).create_bucket(Bucket=BUCKET)
        # From here on every request must be signed with the user's key, as on AWS.
        requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
        yield Bucket(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_until_up(endpoint: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, "moto's server ended at its start"
        try:
            requests.get(f"{endpoint}/moto-api/", timeout=2)
            return
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "moto's server did not answer in 60 s"
            time.sleep(0.2)


@dataclass
class S3Lake:
    env: dict[str, str]
    workspace: Workspace
    ingest: subprocess.CompletedProcess[str]
    keys_after_ingest: list[str]
    build: dg.ExecuteInProcessResult


@pytest.fixture(scope="module")
def s3_lake(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresCluster, bucket: Bucket
) -> Iterator[S3Lake]:
    """A few raw tables loaded by the CLI, then the whole graph built, into one lake on S3."""
    root = tmp_path_factory.mktemp("lake_s3")
    sandbox = Sandbox(SandboxConfig(seed=5, scale="tiny"))
    write_demo_survey_feed(sandbox.workspace, root / "feed")
    with RunningSandbox(sandbox) as running:
        env = {
            **lake_env(postgres, root, "lake_s3"),
            **bucket.env(),
            "DUCKDB_SERVING_DIR": str(root / "serving"),
            "SURVEY_FEED_DIR": str(root / "feed"),
            "INTERCOM_BASE_URL": running.base_url,
            "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
        }
        ingest = cli_ingest(env, ["admins", "teams", "tags", "conversations"])
        keys = bucket.keys()
        build = build_all(env)
        yield S3Lake(env, sandbox.workspace, ingest, keys, build)


def cli_ingest(env: dict[str, str], tables: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "ingest", *tables],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=PROJECT,
        check=False,
        timeout=300,
    )


def test_the_cli_loads_raw_tables_into_parquet_files_in_the_bucket(s3_lake: S3Lake) -> None:
    assert s3_lake.ingest.returncode == 0, s3_lake.ingest.stderr
    # DuckLake inlines an insert of a few rows into the catalog instead of writing a file (the
    # tiny workspace's 8 admins, 3 teams and dlt's bookkeeping land so), so files are expected
    # only for the larger tables; the row counts below cover the inlined ones too.
    parquet = [key for key in s3_lake.keys_after_ingest if key.endswith(".parquet")]
    for table in ("conversations", "conversation_parts"):
        assert any(key.startswith(f"{PREFIX}intercom_raw/{table}/") for key in parquet), parquet
    workspace = s3_lake.workspace
    with lake_of(s3_lake.env).read() as conn:
        counts = dict(
            conn.execute(
                "select 'conversations', count(*) from intercom_raw.conversations union all "
                "select 'admins', count(*) from intercom_raw.admins union all "
                "select 'teams', count(*) from intercom_raw.teams union all "
                "select 'tags', count(*) from intercom_raw.tags"
            ).fetchall()
        )
    assert counts == {
        "conversations": len(workspace.conversations),
        "admins": len(workspace.admins),
        "teams": len(workspace.teams),
        "tags": len(workspace.tags),
    }


def test_dbt_builds_the_whole_graph_on_the_lake_in_the_bucket(
    s3_lake: S3Lake, bucket: Bucket
) -> None:
    assert s3_lake.build.success
    assert s3_lake.build.asset_materializations_for_node("intercom_dbt")
    with lake_of(s3_lake.env).read() as conn:
        marts = conn.execute("select count(*) from analytics.conversations").fetchone()[0]
    assert marts == len(s3_lake.workspace.conversations)
    assert any(key.startswith(f"{PREFIX}analytics/") for key in bucket.keys())


def test_a_wrong_secret_names_the_bucket_settings_and_never_shows_the_secret(
    s3_lake: S3Lake, bucket: Bucket
) -> None:
    """The attach lists the bucket once, so a writer with a wrong secret stops there with the
    fix, not in a traceback from dlt's first Parquet upload."""
    wrong = "wrong-Secret-zq8VX"
    env = {**s3_lake.env, **bucket.env(secret=wrong)}
    with pytest.raises(WarehouseError, match=r"403.*DUCKLAKE_DATA_PATH and the AWS_\*") as raised:
        with lake_of(env).connect("checking the bucket"):
            pass
    assert wrong not in str(raised.value)
    done = cli_ingest(env, ["tags"])
    assert done.returncode == 2, done.stderr
    assert "error: cannot attach the DuckLake" in done.stderr
    assert "DUCKLAKE_DATA_PATH" in done.stderr and "AWS_*" in done.stderr
    assert "PostgreSQL" not in done.stderr  # the catalog answered: it is not to blame
    assert wrong not in done.stderr + done.stdout
