"""The whole sidebar flow in a real browser: the local preview of `billsync serve`, the very
files of sheets_addon/, and the DigitalOcean simulator behind it."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from api.ledger.workbook.ledger import WorkbookLedger
from api.simulators.digitalocean import DEMO_TOKEN
from api.simulators.doit import DEMO_KEY
from tests.browser.accessibility import serious_violations
from tests.browser.conftest import Preview, shoot
from tests.export_rules import validate_qbo
from tests.report_samples import inbox_batch

BAD_TOKEN = "dop_v1_" + "0" * 64
SUMMARY = re.compile(r"Synced: (\d+) new(?:, (\d+) updated)? invoices? · (\d+) line items?")


def wait(driver: WebDriver, seconds: float = 20) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, seconds, poll_frequency=0.05)


def visible(driver: WebDriver, css: str, seconds: float = 20) -> WebElement:
    return wait(driver, seconds).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def open_sidebar(driver: WebDriver, preview: Preview) -> None:
    driver.get(preview.url)
    visible(driver, "#add-form")


def add_provider(driver: WebDriver, name: str, token: str) -> None:
    field = driver.find_element(By.ID, "add-name")
    field.clear()
    field.send_keys(name)
    driver.find_element(By.ID, "add-token").send_keys(token)
    driver.find_element(By.ID, "add-submit").click()


def rows(preview: Preview, tab: str) -> int:
    book = load_workbook(preview.home / "ledger.xlsx", read_only=True)
    try:
        return sum(1 for row in book[tab].iter_rows(min_row=2, values_only=True) if any(row))
    finally:
        book.close()


def test_the_key_leaves_the_address_bar_and_stays_in_the_tab_only(
    browser: WebDriver, preview: Preview
) -> None:
    open_sidebar(browser, preview)
    assert "key=" not in browser.current_url
    assert browser.current_url == preview.base + "/addon/"
    key = preview.url.split("key=", 1)[1]
    stored = browser.execute_script("return [sessionStorage.length, localStorage.length]")
    assert stored == [1, 0]
    assert browser.execute_script("return Object.values(sessionStorage)") == [key]
    assert key not in browser.execute_script("return document.documentElement.outerHTML")
    shoot(browser, "01-first-open")


def test_add_provider_then_sync_now_moves_the_bar_and_counts_equal_the_workbook(
    browser: WebDriver, fresh_preview: Preview
) -> None:
    preview = fresh_preview
    open_sidebar(browser, preview)
    add_provider(browser, "Acme", DEMO_TOKEN)
    card = visible(browser, "#connection-list .card")
    assert card.find_element(By.CSS_SELECTOR, "[data-field=name]").text == "Acme"
    fingerprint = card.find_element(By.CSS_SELECTOR, "[data-field=fingerprint]").text
    assert fingerprint and fingerprint != DEMO_TOKEN and DEMO_TOKEN[-4:] in fingerprint
    assert browser.find_element(By.ID, "add-token").get_attribute("value") == ""
    assert DEMO_TOKEN not in browser.page_source
    shoot(browser, "02-provider-added")

    card.find_element(By.CSS_SELECTOR, "[data-action=sync]").click()
    seen = watch_progress(browser, card)
    assert len({value for value, _ in seen if 0 < value < 100}) >= 2, seen
    assert [value for value, _ in seen] == sorted(value for value, _ in seen), "bar went back"
    assert any("of" in label for _, label in seen), seen

    summary = visible(browser, "[data-field=summary]", 60)
    found = SUMMARY.search(summary.text)
    assert found, summary.text
    new, updated, line_items = int(found[1]), int(found[2] or 0), int(found[3])
    assert new + updated == rows(preview, "Invoices") == 18
    assert line_items == rows(preview, "Line Items")
    runs = card.find_elements(By.CSS_SELECTOR, "[data-field=runs] li")
    wait(browser).until(lambda _: "Done" in card.find_element(By.CSS_SELECTOR, ".runs").text)
    assert len(runs) >= 1
    shoot(browser, "04-sync-finished")


def test_run_times_are_the_persons_local_time_with_its_zone(
    browser: WebDriver, fresh_preview: Preview
) -> None:
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Tokyo"})
    try:
        open_sidebar(browser, fresh_preview)
        add_provider(browser, "Tokyo", DEMO_TOKEN)
        card = visible(browser, "#connection-list .card")
        card.find_element(By.CSS_SELECTOR, "[data-action=sync]").click()
        runs = card.find_element(By.CSS_SELECTOR, ".runs")
        wait(browser, 90).until(lambda _: "Done" in runs.text)
        when = card.find_element(By.CSS_SELECTOR, "[data-field=runs] li .run-head span").text
    finally:
        browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})
    assert re.fullmatch(r"\d{1,2} \w{3}, \d{2}:\d{2} GMT\+9( · scheduled)?", when), when


def watch_progress(browser: WebDriver, card: WebElement) -> list[tuple[int, str]]:
    """(aria-valuenow, label) each time the bar changes, until the sync's summary appears."""
    seen: list[tuple[int, str]] = []
    bar = card.find_element(By.CSS_SELECTOR, "[role=progressbar]")
    deadline = time.monotonic() + 90
    shot = False
    while time.monotonic() < deadline:
        state: dict[str, Any] = browser.execute_script(
            "const card = arguments[0];"
            "return {hidden: card.querySelector('[data-field=progress]').hidden,"
            " now: arguments[1].getAttribute('aria-valuenow'),"
            " label: card.querySelector('[data-field=progress-label]').textContent,"
            " done: !card.querySelector('[data-field=summary]').hidden};",
            card,
            bar,
        )
        if state["done"]:
            return seen
        if not state["hidden"]:
            current = (int(state["now"]), state["label"])
            if not seen or seen[-1] != current:
                seen.append(current)
            if not shot and "of" in current[1] and 10 < current[0] < 80:
                shoot(browser, "03-sync-progress")
                shot = True
        time.sleep(0.05)
    pytest.fail(f"the sync did not finish within 90 s; progress seen: {seen}")


def test_a_bad_token_shows_a_readable_error_and_is_not_kept(
    browser: WebDriver, preview: Preview
) -> None:
    open_sidebar(browser, preview)
    add_provider(browser, "Wrong", BAD_TOKEN)
    error = visible(browser, "#add-error")
    wait(browser).until(lambda _: error.text.strip())
    message = error.text
    assert "DigitalOcean" in message and "token" in message.lower(), message
    assert not re.search(r"\b(401|422|HTTP|Traceback|Exception)\b", message), message
    assert "paste it here" in message and "`" not in message, message  # no CLI advice
    assert BAD_TOKEN not in browser.page_source
    token = browser.find_element(By.ID, "add-token")
    assert token.get_attribute("value") == ""
    assert token.get_attribute("aria-invalid") == "true"
    assert browser.switch_to.active_element == token
    assert browser.find_elements(By.CSS_SELECTOR, "#connection-list .card") == []
    shoot(browser, "05-bad-token")


def test_keyboard_only_add_provider_and_sync(browser: WebDriver, preview: Preview) -> None:
    open_sidebar(browser, preview)
    keys = ActionChains(browser)

    def focused() -> str:
        return str(
            browser.execute_script(
                "const e = document.activeElement; return e.id || e.name || e.value || e.tagName;"
            )
        )

    keys.send_keys(Keys.TAB).perform()
    assert focused() == "provider"  # the checked radio: DigitalOcean
    keys.send_keys(Keys.ARROW_RIGHT).perform()  # DoiT: the form asks for an API key
    assert browser.find_element(By.ID, "add-token-label").text == "API key"
    assert browser.find_element(By.ID, "tenant-group").is_displayed()
    keys.send_keys(Keys.ARROW_LEFT).perform()  # back to DigitalOcean
    assert browser.find_element(By.ID, "add-token-label").text == "Read-only API token"
    keys.send_keys(Keys.TAB).perform()
    assert focused() == "add-name"
    keys.key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys("Keyboard").perform()
    keys.send_keys(Keys.TAB).perform()
    assert focused() == "add-token"
    keys.send_keys(DEMO_TOKEN).perform()
    shoot(browser, "06-keyboard-form")
    keys.send_keys(Keys.ENTER).perform()  # submits the form

    card = visible(browser, "#connection-list .card")
    assert card.find_element(By.CSS_SELECTOR, "[data-field=name]").text == "Keyboard"
    sync = card.find_element(By.CSS_SELECTOR, "[data-action=sync]")
    wait(browser).until(lambda _: browser.switch_to.active_element == sync)
    keys.send_keys(Keys.ENTER).perform()
    visible(browser, "[data-field=summary]", 90)
    shoot(browser, "07-keyboard-synced")


def test_schedule_and_disconnect_behind_a_confirmation(
    browser: WebDriver, preview: Preview
) -> None:
    open_sidebar(browser, preview)
    add_provider(browser, "Scheduled", DEMO_TOKEN)
    card = visible(browser, "#connection-list .card")
    card.find_element(By.CSS_SELECTOR, "[data-field=schedule] summary").click()
    select(card, "frequency", "weekly")
    assert card.find_element(By.CSS_SELECTOR, "[data-field=weekday-group]").is_displayed()
    assert not card.find_element(By.CSS_SELECTOR, "[data-field=day-group]").is_displayed()
    preview_box = card.find_element(By.CSS_SELECTOR, "[data-field=include-preview]")
    was = preview_box.is_selected()
    preview_box.click()
    wait(browser).until(lambda _: preview_box.is_enabled() and preview_box.is_selected() != was)
    key = preview.url.split("key=", 1)[1]
    listed = httpx.get(
        preview.base + "/v1/spreadsheets/local/connections",
        headers={"Authorization": f"Bearer {key}"},
    ).json()["connections"]
    assert [c["include_preview"] for c in listed] == [not was]
    select(card, "weekday", "2")
    select(card, "hour", "7")
    card.find_element(By.CSS_SELECTOR, "[data-action=save-schedule]").click()
    summary = card.find_element(By.CSS_SELECTOR, "[data-field=schedule-summary]")
    wait(browser).until(lambda _: "Wednesday" in summary.text)
    assert "07:00" in summary.text
    shoot(browser, "08-schedule")

    card.find_element(By.CSS_SELECTOR, "[data-action=disconnect]").click()
    confirm = visible(browser, "[data-field=confirm]")
    assert "Scheduled" in confirm.text
    cancel = confirm.find_element(By.CSS_SELECTOR, "[data-action=cancel-disconnect]")
    assert browser.switch_to.active_element == cancel
    shoot(browser, "09-disconnect-confirm")
    confirm.find_element(By.CSS_SELECTOR, "[data-action=confirm-disconnect]").click()
    wait(browser).until(lambda _: not browser.find_elements(By.CSS_SELECTOR, ".card"))
    assert "disconnected" in browser.find_element(By.ID, "status").text


def select(card: WebElement, name: str, value: str) -> None:
    from selenium.webdriver.support.select import Select

    Select(card.find_element(By.CSS_SELECTOR, f"[data-field={name}]")).select_by_value(value)


def test_no_serious_accessibility_violations(browser: WebDriver, preview: Preview) -> None:
    open_sidebar(browser, preview)
    assert serious_violations(browser, "first-open") == []
    add_provider(browser, "Wrong", BAD_TOKEN)
    visible(browser, "#add-error")
    wait(browser).until(lambda _: browser.find_element(By.ID, "add-error").text.strip())
    assert serious_violations(browser, "bad-token") == []
    add_provider(browser, "Acme", DEMO_TOKEN)
    card = visible(browser, "#connection-list .card")
    card.find_element(By.CSS_SELECTOR, "[data-field=schedule] summary").click()
    select(card, "frequency", "monthly")
    card.find_element(By.CSS_SELECTOR, "[data-action=sync]").click()
    visible(browser, "[data-field=summary]", 90)
    card.find_element(By.CSS_SELECTOR, "[data-action=disconnect]").click()
    assert serious_violations(browser, "connection-card") == []


def test_a_failed_run_reads_as_words_and_retry_recovers(
    browser: WebDriver, preview: Preview
) -> None:
    open_sidebar(browser, preview)
    add_provider(browser, "Acme", DEMO_TOKEN)
    card = visible(browser, "#connection-list .card")
    preview.simulator.faults.add("401", "/v2/customers/my/invoices")  # the token was revoked
    card.find_element(By.CSS_SELECTOR, "[data-action=sync]").click()
    summary = visible(browser, "[data-field=summary].failed", 60)
    assert "DigitalOcean" in summary.text and "token" in summary.text.lower(), summary.text
    assert not re.search(r"\b(401|HTTP|Traceback)\b", summary.text), summary.text
    assert "add it again" in summary.text and "`" not in summary.text, summary.text
    runs = card.find_element(By.CSS_SELECTOR, "[data-field=runs]")
    retry = WebDriverWait(browser, 20).until(
        lambda _: runs.find_element(By.XPATH, ".//button[normalize-space()='Retry']")
    )
    assert "Failed" in runs.text
    retry.click()
    wait(browser, 90).until(lambda _: "Synced:" in card.text)
    wait(browser).until(lambda _: len(runs.find_elements(By.TAG_NAME, "li")) == 2)
    first, second = runs.find_elements(By.TAG_NAME, "li")
    assert "Done" in first.text and "Failed" in second.text
    assert not runs.find_elements(By.TAG_NAME, "button"), "Retry only on the latest run"
    assert rows(preview, "Invoices") == 18
    card.find_element(By.CSS_SELECTOR, "[data-field=schedule] summary").click()
    select(card, "frequency", "monthly")
    select(card, "day", "2")
    card.find_element(By.CSS_SELECTOR, "[data-action=save-schedule]").click()
    wait(browser).until(lambda _: "day 2" in card.text)
    card.find_element(By.CSS_SELECTOR, "[data-field=schedule] summary").click()  # fold it
    shoot(browser, "10-failed-then-retried")


# google.script.run played by the page itself, installed before any script of the page runs
# (the preview's shim then cannot replace it): the service side of consent needs Google, which
# the local preview has not, so this test drives the sidebar's consent panel alone.
FAKE_CONSENT = """
(() => {
  let connected = false;
  const me = () => ({ email: 'bookkeeper@example.com', google: { connected } });
  const answers = {
    getSidebarState: () => ({ ...me(), timeZone: 'Europe/Berlin', spreadsheetUrl: '',
                              connections: connected ? [] : null }),
    startGoogleConnect: () => { setTimeout(() => { connected = true; }, 1000); return '%s'; },
    getMe: me,
  };
  const calls = [];
  function runner(success, failure) {
    return new Proxy({}, { get: (_, name) => {
      if (name === 'withSuccessHandler') return (f) => runner(f, failure);
      if (name === 'withFailureHandler') return (f) => runner(success, f);
      return (...args) => {
        calls.push(name);
        const answer = () => { try { success(answers[name](...args)); } catch (e) { failure(e); } };
        setTimeout(answer, 20);
      };
    } });
  }
  Object.defineProperty(window, 'google', { value: { script: { run: runner() } } });
  Object.defineProperty(window, 'consentCalls', { value: calls });
})();
"""


def test_first_open_asks_for_google_consent_in_a_new_window_then_waits_for_it(
    browser: WebDriver, preview: Preview
) -> None:
    consent_url = preview.base + "/healthz?consent"
    added = browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": FAKE_CONSENT % consent_url}
    )
    try:
        browser.get(preview.base + "/addon/")
        button = visible(browser, "#connect-google-button")
        assert button.text == "Connect your Google account"
        assert not browser.find_element(By.ID, "add-provider").is_displayed()
        assert "bookkeeper@example.com" in browser.find_element(By.ID, "signed-in").text
        shoot(browser, "00-connect-google")
        assert serious_violations(browser, "connect-google") == []
        sidebar = browser.current_window_handle
        button.click()
        wait(browser).until(lambda _: len(browser.window_handles) == 2)
        visible(browser, "#consent-waiting")
        link = browser.find_element(By.ID, "consent-link")
        assert link.get_attribute("href") == consent_url
        popup = next(handle for handle in browser.window_handles if handle != sidebar)
        browser.switch_to.window(popup)
        wait(browser).until(lambda _: browser.current_url == consent_url)
        browser.close()
        browser.switch_to.window(sidebar)
        visible(browser, "#add-form", 30)  # /v1/me said connected: the sidebar moved on
        assert not browser.find_element(By.ID, "connect-google").is_displayed()
        calls = browser.execute_script("return window.consentCalls")
        assert calls[:2] == ["getSidebarState", "startGoogleConnect"]
        assert "getMe" in calls and calls[-1] == "getSidebarState"
    finally:
        browser.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": added["identifier"]}
        )


def test_doit_asks_for_an_invoice_viewer_key_and_syncs(
    browser: WebDriver, preview: Preview
) -> None:
    open_sidebar(browser, preview)
    browser.find_element(By.CSS_SELECTOR, "input[name=provider][value=doit]").click()
    assert browser.find_element(By.ID, "add-token-label").text == "API key"
    help_text = browser.find_element(By.ID, "add-token-help")
    assert "Invoice Viewer" in help_text.text
    assert browser.find_element(By.ID, "add-name").get_attribute("value") == "DoiT"
    browser.find_element(By.ID, "add-tenant").send_keys("acme-inc")
    browser.find_element(By.ID, "add-token").send_keys(DEMO_KEY)
    browser.find_element(By.ID, "add-submit").click()
    card = visible(browser, "#connection-list .card")
    assert card.find_element(By.CSS_SELECTOR, "[data-field=provider]").text == "DoiT"
    assert DEMO_KEY not in browser.page_source
    card.find_element(By.CSS_SELECTOR, "[data-action=sync]").click()
    wait(browser, 90).until(lambda _: "Synced:" in card.text)
    found = SUMMARY.search(card.find_element(By.CSS_SELECTOR, "[data-field=summary]").text)
    assert found and int(found[1]) > 0, card.text
    shoot(browser, "11-doit")


def test_export_bills_of_last_month_then_a_bad_month_is_refused_in_words(
    browser: WebDriver, fresh_preview: Preview
) -> None:
    preview = fresh_preview
    open_sidebar(browser, preview)
    add_provider(browser, "Acme", DEMO_TOKEN)
    card = visible(browser, "#connection-list .card")
    card.find_element(By.CSS_SELECTOR, "[data-action=sync]").click()
    visible(browser, "[data-field=summary]", 90)
    card.find_element(By.CSS_SELECTOR, "[data-field=export] summary").click()
    month = card.find_element(By.CSS_SELECTOR, "[data-field=export-month]")
    period = str(month.get_attribute("value"))
    assert period == last_final_period(preview)  # the month before this one, already there
    select(card, "export-format", "qbo")
    select(card, "export-dates", "iso")
    card.find_element(By.CSS_SELECTOR, "[data-action=export]").click()

    result = visible(browser, "[data-field=export-result]", 30)
    assert result.find_element(By.CSS_SELECTOR, "[data-field=export-text]").text == (
        f"Exported 1 bill of {period} for QuickBooks Online."
    )
    (shown,) = result.find_elements(By.CSS_SELECTOR, "[data-field=export-files] li")
    path = Path(shown.text.split(" · saved as ", 1)[1])
    assert path.name == f"{period} Acme qbo.csv" and path.parent.name == "Exports"
    bills = validate_qbo(path.read_text(encoding="utf-8"), "iso")
    lines = len(path.read_text(encoding="utf-8").splitlines()) - 1
    ((currency, total),) = bills.values()
    assert shown.text.startswith(f"{period} Acme qbo.csv · {lines} lines · {currency} {total}")
    assert "export finished" in browser.find_element(By.ID, "status").text
    shoot(browser, "12-export")
    assert serious_violations(browser, "export") == []

    inbox_invoice(preview, period)  # a PDF the inbox read into the same ledger
    card.find_element(By.CSS_SELECTOR, "[data-field=export-ledger]").click()
    card.find_element(By.CSS_SELECTOR, "[data-action=export]").click()
    wait(browser, 30).until(lambda _: "Exported 2 bills" in result.text)
    (shown,) = result.find_elements(By.CSS_SELECTOR, "[data-field=export-files] li")
    path = Path(shown.text.split(" · saved as ", 1)[1])
    assert path.name == f"{period} qbo.csv"  # the whole ledger: no connection in the name
    assert set(validate_qbo(path.read_text(encoding="utf-8"), "iso")) == {*bills, "LN-42"}

    browser.execute_script("arguments[0].value = ''", month)  # what a half-typed month leaves
    card.find_element(By.CSS_SELECTOR, "[data-action=export]").click()
    error = visible(browser, "#error-text")
    assert "YYYY-MM" in error.text and month.get_attribute("aria-invalid") == "true"
    assert browser.switch_to.active_element == month


def inbox_invoice(preview: Preview, period: str) -> None:
    """A PDF invoice as the inbox writes it into the local ledger."""
    WorkbookLedger(preview.home / "ledger.xlsx").write(inbox_batch(period))


def last_final_period(preview: Preview) -> str:
    book = load_workbook(preview.home / "ledger.xlsx", read_only=True)
    try:
        sheet = book["Invoices"]
        header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
        at = header.index("Period")
        return str(max(row[at] for row in sheet.iter_rows(min_row=2, values_only=True) if row[at]))
    finally:
        book.close()
