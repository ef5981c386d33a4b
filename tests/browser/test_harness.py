"""The harness itself: the offline page really cuts off and records the network."""

from __future__ import annotations


def test_offline_page_blocks_and_records_network_requests(open_static_export, tmp_path):
    page_file = tmp_path / "fetches.html"
    page_file.write_text('<!DOCTYPE html><img src="https://cdn.example.invalid/x.png"><p>hi</p>')
    page = open_static_export(page_file)
    page.wait_for_load_state("load")
    assert page.blocked == ["https://cdn.example.invalid/x.png"]
    assert page.locator("p").inner_text() == "hi"
