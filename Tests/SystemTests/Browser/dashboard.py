"""Drives the dashboard in headless Chromium, as a person would, and prints what it saw as one
JSON object for DashboardBrowserTests to check against the REST API. Exits non-zero when a page
does not behave."""
import argparse
import json
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--token", required=True)
parser.add_argument("--shots", required=True)
parser.add_argument("--script-job", required=True)
parser.add_argument("--dead-job", required=True)
parser.add_argument("--pause-queue", required=True)
parser.add_argument("--paged-queue", required=True, help="a queue of QUEUED jobs no worker takes, read page by page")
parser.add_argument("--busy-queue", required=True, help="a queue a worker runs, for jobs submitted while the overview is open")
parser.add_argument("--scheduled-queue", required=True, help="a queue with one job delayed by an hour")
arguments = parser.parse_args()

options = webdriver.ChromeOptions()
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
    options.add_argument(flag)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"), options=options)
# Polled every 20 ms (not the default 500), so the timings below are the page's, not the poll's.
wait = WebDriverWait(driver, 30, poll_frequency=0.02)
seen = {"timings": {}}


def shot(name):
    driver.save_screenshot(f"{arguments.shots}/{name}.png")


def submit_batch(queue, count):
    body = json.dumps({"jobs": [{"queue": queue, "type": "noop"} for _ in range(count)]}).encode()
    request = urllib.request.Request(f"{arguments.url}/v1/jobs/batch", data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {arguments.token}"})
    urllib.request.urlopen(request, timeout=30).read()


# 100 queue updates a second for three seconds, straight into the page's handler of the live
# stream: the page must redraw at most once a frame, take little of the main thread doing it,
# and keep answering (the longest a 10 ms timer was late measures how long it was blocked).
UPDATES_PER_SECOND = """
const done = arguments[arguments.length - 1];
const base = live.queues.map((q) => ({ ...q }));
const before = { count: live.renders.count, ms: live.renders.ms };
let injected = 0, last = performance.now(), maxLagMs = 0;
const started = last;
const timer = setInterval(() => {
  const now = performance.now();
  maxLagMs = Math.max(maxLagMs, now - last - 10);
  last = now;
  injected += 1;
  onQueues(base.map((q) => ({ ...q, queued: q.queued + injected })));
  if (injected === 300) {
    clearInterval(timer);
    requestAnimationFrame(() => requestAnimationFrame(() => done({
      injected, seconds: (performance.now() - started) / 1000, renders: live.renders.count - before.count,
      renderMs: live.renders.ms - before.ms, maxLagMs })));
  }
}, 10);
"""


def open_page(fragment, wait_for):
    # From a blank page, so the wait cannot find the page before's elements and the time is a
    # whole page load.
    driver.get("about:blank")
    started = time.monotonic()
    driver.get(f"{arguments.url}/ui#/{fragment}")
    element = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, wait_for)))
    seen["timings"][fragment or "overview"] = round((time.monotonic() - started) * 1000)
    return element


try:
    # Without a session the dashboard is the login page.
    driver.get(f"{arguments.url}/ui")
    wait.until(ready.presence_of_element_located((By.ID, "token")))
    seen["login_first"] = driver.current_url.endswith("/ui/login")
    shot("login")
    driver.find_element(By.ID, "token").send_keys(arguments.token)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

    # The overview: counts per queue and state, as the page shows them.
    open_page("", "#queues tbody tr")
    wait.until(lambda d: d.find_element(By.ID, "live").get_attribute("class") == "live on")
    # Read in one script call: the live stream redraws the table every second.
    seen["queues"] = driver.execute_script("""
        const queues = {};
        for (const row of document.querySelectorAll("#queues tbody tr")) {
          const cells = {};
          for (const cell of row.querySelectorAll("td[data-state]")) cells[cell.dataset.state] = parseInt(cell.textContent, 10);
          queues[row.dataset.queue] = cells;
        }
        return queues;""")
    shot("overview")

    # The page under 100 updates a second, then real work: jobs submitted now are counted on
    # the overview as a worker completes them, with the rate column and chart fed by the
    # masters' samples, without a reload.
    driver.set_script_timeout(30)
    seen["updates"] = driver.execute_async_script(UPDATES_PER_SECOND)
    completed_cell = f"#queues tr[data-queue='{arguments.busy_queue}'] td[data-state=COMPLETED]"
    before = int(driver.execute_script(f"return document.querySelector(\"{completed_cell}\").textContent"))
    submit_batch(arguments.busy_queue, 1000)
    submit_batch(arguments.busy_queue, 1000)
    started = time.monotonic()
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(f"""
        const cell = document.querySelector("{completed_cell}");
        const rate = document.querySelector("#queues tr[data-queue='{arguments.busy_queue}'] td[data-rate=completed]");
        return cell && parseInt(cell.textContent, 10) >= {before + 2000} && rate && parseFloat(rate.textContent) > 0;"""))
    seen["live_completed_ms"] = round((time.monotonic() - started) * 1000)
    seen["chart_samples"] = driver.execute_script(
        f"return (live.throughput['{arguments.busy_queue}'] || []).length")
    shot("overview-busy")

    # A queue's jobs page by page: Next follows the cursor, Previous is the browser's back.
    pages = []
    open_page(f"jobs?queue={arguments.paged_queue}&state=QUEUED", "#jobs tbody tr")
    rows = """return [...document.querySelectorAll("#jobs tbody tr")].map((row) => row.cells[0].textContent)"""
    while True:
        pages.append(driver.execute_script(rows))
        has_next = driver.execute_script(
            """const next = [...document.querySelectorAll("#pager button")].find((b) => b.textContent.startsWith("Next"));
               if (next) next.click();
               return !!next;""")
        if not has_next or len(pages) > 10:
            break
        number = len(pages) + 1
        wait.until(lambda d: f"page={number}" in d.current_url and d.execute_script(rows) and d.execute_script(rows) != pages[-1])
    seen["paged_ids"] = pages
    shot("jobs-paged")
    driver.back()
    wait.until(lambda d: d.execute_script(rows) == pages[-2])
    seen["previous_page_shown"] = True

    # A delayed job shows when it is due.
    open_page(f"jobs?queue={arguments.scheduled_queue}&state=SCHEDULED", "#jobs tbody tr")
    seen["due_shown"] = driver.execute_script("""return document.querySelector("#jobs td.due").textContent""")

    # A payload that is a script is shown as text, and runs nowhere.
    payload = open_page(f"job/{arguments.script_job}", "#payload")
    seen["script_payload_text"] = payload.text
    seen["script_ran"] = driver.execute_script("return window.__dashboardInjected === true")
    seen["script_elements_in_payload"] = len(payload.find_elements(By.TAG_NAME, "script"))

    # A dead letter: its history, then a retry from the page, then it completes.
    # Read and clicked in script calls: an action redraws the page, and an element found before
    # the redraw is gone after it.
    history = """return [...document.querySelectorAll("#history tbody tr")].map((row) => row.cells[1].textContent)"""
    open_page(f"job/{arguments.dead_job}", "#history tbody tr")
    seen["dead_history"] = driver.execute_script(history)
    shot("job")
    driver.execute_script("""[...document.querySelectorAll("button")].find((b) => b.textContent === "Retry").click()""")
    deadline = time.monotonic() + 30
    state = None
    while time.monotonic() < deadline:
        # A reload, so the page asks the API again (the same address would not navigate).
        driver.refresh()
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#history tbody tr")))
        states = driver.execute_script(history)
        state = states[-1] if states else None
        if state == "COMPLETED":
            break
        time.sleep(0.3)
    seen["retried_state"] = state

    # The other pages render.
    open_page("dead", "#page h1")
    shot("dead-letters")
    open_page("workers", "#workers tbody tr")
    shot("workers")
    open_page("jobs", "#jobs")
    shot("jobs")

    # Pausing a queue from the overview.
    open_page("", f"#queues tr[data-queue='{arguments.pause_queue}']")
    # Found and clicked in one script call: the live stream redraws the table every second.
    row = f"#queues tr[data-queue='{arguments.pause_queue}']"
    driver.execute_script(f"document.querySelector(\"{row} button\").click()")
    wait.until(lambda d: d.execute_script(f"return (document.querySelector(\"{row}\") || {{}}).textContent || ''").find("PAUSED") >= 0)
    seen["paused_shown"] = True
    shot("overview-paused")
except Exception as error:  # noqa: BLE001 - every failure is reported, with a screenshot
    seen["error"] = f"{type(error).__name__}: {error}"
    shot("failure")
finally:
    driver.quit()

print(json.dumps(seen))
sys.exit(1 if "error" in seen else 0)
