"""``kxbtc llm forecast`` end to end against the local LLM stub (served from a thread: the command
runs its own event loop)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from llm_stub import LlmStub, Reply, forecast, stub_in_thread

from kxbtc.llm.cli import llm

KEY_ENV = "KXBTC_TEST_LLM_KEY"
PROBABILITIES = {"lead": 0.70, "news": 0.60, "bull": 0.80, "bear": 0.40, "risk": 0.55}


def write_config(path: Path, stub: LlmStub) -> Path:
    lines = [
        "[llm]",
        "deadline_s = 30",
        "[llm.providers.chat]",
        'kind = "openai"',
        f'base_url = "{stub.openai_url}"',
        f'api_key_env = "{KEY_ENV}"',
        "retry_backoff_s = 0",
        "[llm.providers.claude]",
        'kind = "anthropic"',
        f'base_url = "{stub.base_url}"',
        f'api_key_env = "{KEY_ENV}"',
        "retry_backoff_s = 0",
    ]
    for role in PROBABILITIES:
        lines += [f"[llm.roles.{role}]", f'provider = "{"claude" if role == "news" else "chat"}"']
        lines += [f'model = "{role}-model"']
    path.write_text("\n".join(lines) + "\n")
    return path


ARGS = ["forecast", "--ticker", "KXBTC-26JAN0100-T100000", "--spot", "100250", "--strike", "100000"]
ARGS += ["--seconds-to-close", "900", "--model-prob", "0.62"]


def test_forecast_prints_each_role_and_the_blend(tmp_path: Path) -> None:
    stub = LlmStub(key="sk-cli-test")
    for role, p in PROBABILITIES.items():
        stub.script(f"{role}-model", forecast(p))
    stub.script("bear-model", Reply(status=500))
    stub.scripts["bear-model"].popleft()  # bear fails: its 17.5% is dropped and the rest renormalised
    with stub_in_thread(stub):
        config = write_config(tmp_path / "llm.toml", stub)
        runner = CliRunner()
        result = runner.invoke(llm, [*ARGS, "--config", str(config)], env={KEY_ENV: stub.key})
        as_json = runner.invoke(llm, [*ARGS, "--config", str(config), "--json"], env={KEY_ENV: stub.key})

    assert result.exit_code == 0, result.output
    assert "lead  chat/lead-model (weight 0.3): P(YES)=0.7000" in result.output
    assert "news  claude/news-model (weight 0.2): P(YES)=0.6000" in result.output
    assert "bear  chat/bear-model (weight 0.175): FAILED" in result.output and "500" in result.output
    # sigmoid((0.3 logit .7 + 0.2 logit .6 + 0.175 logit .8 + 0.15 logit .55) / 0.825) = 0.67633
    assert "blend: P(YES)=0.6763" in result.output and "weight answered=82%" in result.output
    assert stub.key not in result.output

    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert round(data["probability"], 4) == 0.6763
    assert [r["role"] for r in data["roles"] if not r["ok"]] == ["bear"]
    # The market reached the models as the request context.
    [lead_call, *_] = stub.calls("lead-model")
    sent = json.loads(lead_call.body["messages"][1]["content"].removeprefix("Market:\n"))
    assert sent["ticker"] == "KXBTC-26JAN0100-T100000" and sent["model_probability"] == 0.62


def test_no_prior_exits_1_and_a_bad_config_exits_2(tmp_path: Path) -> None:
    stub = LlmStub(key="sk-cli-test")
    for role in PROBABILITIES:
        stub.script(f"{role}-model", Reply(text="nothing useful"))
    with stub_in_thread(stub):
        config = write_config(tmp_path / "llm.toml", stub)
        result = CliRunner().invoke(llm, [*ARGS, "--config", str(config)], env={KEY_ENV: stub.key})
    assert result.exit_code == 1, result.output
    assert "blend: no prior: 0% of the weight answered, 50% needed" in result.output

    bad = tmp_path / "bad.toml"
    bad.write_text("[llm]\nmin_weight = 1.5\n")
    result = CliRunner().invoke(llm, [*ARGS, "--config", str(bad)])
    assert result.exit_code == 2
    assert "llm.min_weight" in result.output
