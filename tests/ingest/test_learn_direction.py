"""`sites learn` on real files that hold internal and outbound calls, or nothing readable: only
calls that came in from a trunk are evidence for the directory (../shared/data/real, verbatim)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ingest.call_direction import dialed_out_through, internal_by_name, trunk_by_name
from tests.ingest.foreign_pbx import shipped_copy
from tests.ingest.test_cdr_real import real

from qualiphone.cli import cli  # isort: skip


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_extensions_of_another_pbx_are_told_from_dial_strings() -> None:
    from ingest.call_direction import dialed_as_extension_at

    assert dialed_as_extension_at("SIP/158@stadionpbx&SIP/200@stadionpbx,20") == \
        ["SIP/stadionpbx", "SIP/stadionpbx"]
    assert dialed_as_extension_at("SIP/301&SIP/200@stadionpbx,60,t") == ["SIP/stadionpbx"]
    assert dialed_as_extension_at("PJSIP/0153000005@trunk-ovh,30") == []  # an outside number
    assert dialed_as_extension_at("SIP/sipus1/13137572470") == []
    assert dialed_as_extension_at("Local/ch1@TimeDelay&SIP/301") == []


def test_device_names_and_dial_strings() -> None:
    assert trunk_by_name("SIP/50.112.48.21") and trunk_by_name("PJSIP/trunk-paris")
    assert trunk_by_name("Motif/12489398620@voice.google.com") and trunk_by_name("DAHDI/1-1")
    assert not trunk_by_name("Local/ch1@TimeDelay") and not trunk_by_name("SIP/stadionpbx")
    assert internal_by_name("SIP/1500") and internal_by_name("Console/default")
    assert not internal_by_name("SIP/211553")  # a trunk named after its 6-digit account
    assert dialed_out_through("SIP/sipus1/13137572470,30") == ["SIP/sipus1"]
    assert dialed_out_through("SIP/12489398620@sipus1") == ["SIP/sipus1"]
    assert dialed_out_through("PJSIP/0153000005@trunk-ovh") == ["PJSIP/trunk-ovh"]
    assert dialed_out_through("Motif/google/18105881377@voice.google.com,,r") == ["Motif/google"]
    assert dialed_out_through("SIP/301&SIP/200@stadionpbx,60,t") == []


@pytest.mark.realdata
def test_outbound_and_internal_calls_are_never_proposed(real_data: Path, tmp_path: Path) -> None:
    """simularent: SIP/1500 dialing 12489398620 out through Google Voice (Motif), SIP/123654987
    through the trunk SIP/sipus1, Console/default: nothing of it is an inbound number, and the
    trunk is never a staff device, even once a number was wrongly given to a site."""
    config = shipped_copy(tmp_path / "c")
    path = real(real_data, "simularent/Master.csv")
    out = run("--config", str(config), "sites", "learn", str(path), "--write",
              str(tmp_path / "p.toml"))
    assert out.exit_code == 1
    assert "12489398620" not in out.output.split("set aside")[0]
    assert "outbound (going out through a trunk), from SIP/123654987" in out.output
    assert "SIP/1500 (8)" in out.output and "Console/default (2)" in out.output
    assert "no inbound call found in Master.csv" in out.output
    assert not (tmp_path / "p.toml").exists()
    # the reviewer's second round: the dialed number given to eps-10 by hand
    sites = config / "sites.toml"
    sites.write_text(sites.read_text().replace('dids = ["0199000110"', 'dids = ["12489398620", '
                                                '"812489398620", "0199000110"', 1))
    out = run("--config", str(config), "sites", "learn", str(path), "--write",
              str(tmp_path / "p.toml"))
    assert out.exit_code == 1 and "0 inbound calls" in out.output
    assert "calls in the files" not in out.output  # no site table: eps-10 received nothing
    assert not (tmp_path / "p.toml").exists()


@pytest.mark.realdata
def test_an_inbound_context_is_never_proposed_as_a_message_context(real_data: Path,
                                                                   tmp_path: Path) -> None:
    """dj-asterisk-cdr with its two numbers given to two sites: stadion-pstn is where both
    sites' calls arrive (and reach a person), so it is no message context of either."""
    config = shipped_copy(tmp_path / "c")
    sites = config / "sites.toml"
    text = sites.read_text().replace('dids = ["0199000110"', 'dids = ["211553", "0199000110"', 1)
    sites.write_text(text.replace('dids = ["0199000111"', 'dids = ["211474", "0199000111"', 1))
    patch = tmp_path / "p.toml"
    out = run("--config", str(config), "sites", "learn",
              str(real(real_data, "dj-asterisk-cdr/Master.csv")), "--write", str(patch))
    assert out.exit_code == 0, out.output
    assert "SIP/stadionpbx" in patch.read_text()
    # proposed, but said to be another PBX reached as 200@stadionpbx: a person, or its voicemail
    assert "SIP/stadionpbx: 5 calls; CHECK: dialed as EXTENSION@PEER" in patch.read_text()
    assert "SIP/301: 17 calls; also" in patch.read_text()  # a phone of this PBX: no such note
    assert "message_contexts" not in patch.read_text()
    assert "voicemail_contexts" not in patch.read_text()


@pytest.mark.realdata
def test_a_file_learn_cannot_read_is_refused(real_data: Path, tmp_path: Path) -> None:
    config = shipped_copy(tmp_path / "c")
    empty, pdf = tmp_path / "empty.csv", tmp_path / "some.pdf"
    empty.write_text("")
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    queue_log = real_data / "queue_log/altanai-asteriskexamples/queue_log_excerpt_from_README.txt"
    psql = next((real_data / "cel/wazo-call-logd").glob("*.psql.txt"))
    for args, said in (([str(empty)], "is empty: nothing to learn from it"),
                       ([str(pdf)], "does not read as a cdr file"),
                       (["--kind", "cdr", str(queue_log)], "It looks like an Asterisk "
                        "queue_log: --kind queue_log."),
                       (["--kind", "cdr", str(psql)], "It looks like a psql dump of a CEL "
                        "table: --kind cel."),
                       ([str(psql)], "(cel: 1 calls): 0 inbound calls")):  # read as CEL
        out = run("--config", str(config), "sites", "learn", *args)
        assert out.exit_code == 1 and said in out.output, (args, out.output)
        assert "already has everything" not in out.output


@pytest.mark.realdata
def test_an_internal_only_file_says_what_to_give_instead(real_data: Path, tmp_path: Path) -> None:
    config = shipped_copy(tmp_path / "c")
    out = run("--config", str(config), "sites", "learn",
              str(real(real_data, "kelysaina/Master.csv")))
    assert out.exit_code == 1 and "already has everything" not in out.output
    assert "no inbound call found in Master.csv: its 14 calls are internal" in out.output
    assert "calls that come in from the trunk" in out.output


@pytest.mark.realdata
def test_a_call_placed_inside_is_never_advised_as_a_did(real_data: Path, tmp_path: Path) -> None:
    """The import keeps simularent's outbound calls as rejects (unchanged), but their reason no
    longer tells to add the number they dialed out to a site's dids."""
    from config import SHIPPED_DIR
    from tests.ingest.test_cdr_real import context, parse

    ctx = context(tmp_path, (SHIPPED_DIR / "sites.toml").read_text())
    from ingest.records import UnknownSiteError

    p = parse(real(real_data, "simularent/Master.csv"), ctx)
    unknown: list[str] = []
    for b in p.builders:  # the builders finalize refuses, as the import keeps them
        with pytest.raises(UnknownSiteError) as refused:
            ctx.finalize(b)
        unknown.append(str(refused.value))
    assert len(unknown) == 23
    assert not [r for r in unknown if "dids" in r]
    console = [r for r in unknown if '"Console/default"' in r]
    assert len(console) == 2 and all("not a switchboard call" in r for r in console)


@pytest.mark.realdata
def test_learn_counts_queue_log_calls_as_the_importer_does(real_data: Path, tmp_path: Path) -> None:
    """altanai's excerpt: two callers (ENTERQUEUE), as `ingest queue-log` counts them; its
    ADDMEMBER line (callid CLI) is no call."""
    config = shipped_copy(tmp_path / "c")
    path = real_data / "queue_log/altanai-asteriskexamples/queue_log_excerpt_from_README.txt"
    out = run("--config", str(config), "sites", "learn", str(path))
    assert "(queue_log: 2 calls)" in out.output, out.output
