package io.fluxgate.console;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import org.springframework.boot.test.web.server.LocalServerPort;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The console in a real browser (Debian's headless Chromium through chromedriver) against the real
 * service: sign in, subscribe with a filter, watch rows written through the REST API arrive, and
 * resume after a disconnect with nothing missed and nothing twice. A failing test leaves a
 * screenshot of the page under target/console-screenshots/.
 */
class ConsoleBrowserTest extends IntegrationTest {

    private static final String CHROMIUM = "/usr/bin/chromium";
    private static final String CHROMEDRIVER = "/usr/bin/chromedriver";
    /** A wait that means broken, not slow: the page and a cold JVM on a busy machine. */
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final Path SCREENSHOTS = Path.of("target", "console-screenshots");

    private ChromeDriver browser;
    private Path profile;

    @LocalServerPort
    int port;

    @RegisterExtension
    final TestExecutionExceptionHandler screenshotOnFailure = this::screenshotAndRethrow;

    @BeforeAll
    static void requireChromium() {
        boolean present = new File(CHROMIUM).canExecute() && new File(CHROMEDRIVER).canExecute();
        if (!present && "1".equals(System.getenv("FLUXGATE_REQUIRE_CHROMIUM"))) {
            throw new IllegalStateException("FLUXGATE_REQUIRE_CHROMIUM is set but " + CHROMIUM + " or "
                    + CHROMEDRIVER + " is missing (Debian: apt-get install chromium chromium-driver)");
        }
        Assumptions.assumeTrue(present, "Chromium and chromedriver are not installed (Debian: apt-get install "
                + "chromium chromium-driver); the console's browser tests are skipped");
    }

    @BeforeEach
    void openBrowser() throws IOException {
        profile = Files.createTempDirectory("fluxgate-chromium-");
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM).addArguments(
                // The machine may have no outside network: nothing Chromium would fetch for itself.
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                "--user-data-dir=" + profile, "--window-size=1366,900");
        // The driver stops its service on quit: one each.
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(new File(CHROMEDRIVER))
                .usingAnyFreePort().withSilent(true).build();
        browser = new ChromeDriver(service, options);
    }

    @AfterEach
    void closeBrowser() throws IOException {
        if (browser != null) {
            browser.quit();
        }
        try (Stream<Path> files = Files.walk(profile)) {
            files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
    }

    @Test
    void aFilteredSubscriptionShowsMatchingRowsLiveAndAResumeBringsTheMissedRowOnce() {
        Account watcher = newUser("Console Watcher");
        Account author = newUser("Console Author");
        Account other = newUser("Someone Else");
        signIn(watcher);

        subscribe("post_changes", "mine", "{\"authorId\":{\"eq\":" + author.id() + "}}");
        click("connect");
        awaitText("status", "connected");
        awaitLog("subscribed mine");

        // A hostile title: shown as text, never run (an alert would also fail every later step).
        String hostile = "<img src=x onerror=alert(1)>first by author";
        createPost(author, hostile);
        createPost(other, "filtered out");
        createPost(author, "second by author");
        List<WebElement> rows = awaitRows(2);
        assertThat(titles(rows)).containsExactly("second by author", hostile);
        assertThat(browser.findElements(By.cssSelector("#events img"))).as("no markup from data").isEmpty();
        for (WebElement row : rows) {
            String cursor = row.getAttribute("data-cursor");
            assertThat(cursor).isNotBlank();
            assertThat(row.findElement(By.cssSelector("td.cursor")).getText()).isEqualTo(cursor);
            assertThat(row.getAttribute("data-operation")).isEqualTo("INSERT");
            assertThat(row.getAttribute("data-table")).isEqualTo("posts");
        }

        click("disconnect");
        awaitText("status", "disconnected");
        createPost(author, "while away");
        createPost(other, "also filtered out");
        click("resume");
        awaitText("status", "connected");
        rows = awaitRows(3);
        assertThat(titles(rows)).containsExactly("while away", "second by author", hostile);
        assertThat(text("count-received")).isEqualTo("3");
        assertThat(text("count-replayed")).isEqualTo("1");
        assertThat(text("count-duplicates")).isEqualTo("0");
        assertThat(text("last-cursor")).isEqualTo(rows.get(0).getAttribute("data-cursor"));
        assertThat(browser.findElement(By.id("admin")).isDisplayed()).as("no admin view for a user").isFalse();
        saveScreenshotIfAsked();
    }

    @Test
    void overServerSentEventsRowsArriveTooAndAnAdminSeesTheSession() {
        Account author = newUser("Sse Author");
        signIn(admin(), ADMIN_EMAIL);
        new Select(browser.findElement(By.id("transport"))).selectByValue("sse");
        subscribe("post_changes", "sse-posts", "{\"authorId\":{\"eq\":" + author.id() + "}}");
        click("connect");
        awaitText("status", "connected");
        awaitLog("subscribed sse-posts");

        createPost(author, "over sse");
        List<WebElement> rows = awaitRows(1);
        assertThat(titles(rows)).containsExactly("over sse");

        click("sessions-refresh");
        wait(WAIT).until(driver -> !driver.findElements(By.cssSelector("#sessions tr.session")).isEmpty());
        assertThat(browser.findElement(By.id("sessions")).getText()).contains("sse").contains("post_changes")
                .contains("{\"authorId\":{\"eq\":" + author.id() + "}}");

        rows.get(0).findElement(By.cssSelector("td.cursor")).click();
        browser.findElement(By.id("explain-user")).sendKeys(Long.toString(author.id()));
        click("explain");
        awaitText("explain-outcome", "not_subscribed");
    }

    @Test
    void aSnapshotComesFirstAndPauseHoldsRowsUntilUnpaused() {
        Account author = newUser("Snapshot Author");
        createPost(author, "already there");
        Account watcher = newUser("Snapshot Watcher");
        signIn(watcher);
        browser.findElement(By.id("snapshot")).click();
        browser.findElement(By.id("columns")).sendKeys("title");
        subscribe("post_changes", "theirs", "{\"authorId\":{\"eq\":" + author.id() + "}}");
        click("connect");
        awaitLog("snapshot_end theirs");
        assertThat(text("count-snapshot-rows")).isEqualTo("1");

        click("pause");
        createPost(author, "held back");
        wait(WAIT).until(ExpectedConditions.textToBe(By.id("paused-count"), "1"));
        assertThat(browser.findElements(By.cssSelector("#events tr.event"))).as("nothing drawn while paused").isEmpty();
        click("pause");
        List<WebElement> rows = awaitRows(1);
        assertThat(titles(rows)).containsExactly("held back");
        assertThat(rows.get(0).findElement(By.cssSelector("td.data")).getAttribute("title"))
                .as("only the chosen columns and the key").doesNotContain("\"body\"");
    }

    // ---- page steps

    private void signIn(Account account) {
        signIn(account, account.email());
    }

    private void signIn(Account account, String email) {
        browser.get("http://localhost:" + port + "/console");
        browser.findElement(By.id("email")).sendKeys(email);
        browser.findElement(By.id("password")).sendKeys(PASSWORD);
        click("sign-in");
        wait(WAIT).until(ExpectedConditions.visibilityOfElementLocated(By.id("main")));
        assertThat(text("who")).contains(email);
    }

    private void subscribe(String channel, String id, String filter) {
        new Select(browser.findElement(By.id("channel"))).selectByValue(channel);
        browser.findElement(By.id("sub-id")).sendKeys(id);
        browser.findElement(By.id("filter")).sendKeys(filter);
        click("subscribe");
    }

    private void click(String id) {
        browser.findElement(By.id(id)).click();
    }

    private String text(String id) {
        return browser.findElement(By.id(id)).getText();
    }

    private void awaitText(String id, String expected) {
        wait(WAIT).until(ExpectedConditions.textToBe(By.id(id), expected));
    }

    private void awaitLog(String fragment) {
        wait(WAIT).until(driver -> driver.findElement(By.id("log")).getText().contains(fragment));
    }

    /** Waits for exactly {@code count} event rows, and makes sure no more follow at once. */
    private List<WebElement> awaitRows(int count) {
        wait(WAIT).until(driver -> driver.findElements(By.cssSelector("#events tr.event")).size() >= count);
        List<WebElement> rows = browser.findElements(By.cssSelector("#events tr.event"));
        assertThat(rows).hasSize(count);
        return rows;
    }

    private static List<String> titles(List<WebElement> rows) {
        return rows.stream().map(row -> row.findElement(By.cssSelector("td.data")).getAttribute("title"))
                .map(data -> data.replaceAll(".*\"title\":\"([^\"]*)\".*", "$1"))
                .toList();
    }

    private WebDriverWait wait(Duration timeout) {
        return new WebDriverWait(browser, timeout);
    }

    /** {@code -Dfluxgate.console.screenshot=docs/console.png} keeps the page as the README shows it. */
    private void saveScreenshotIfAsked() {
        String target = System.getProperty("fluxgate.console.screenshot");
        if (target != null) {
            try {
                Files.copy(browser.getScreenshotAs(OutputType.FILE).toPath(), Path.of(target),
                        StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException failed) {
                throw new UncheckedIOException(failed);
            }
        }
    }

    private void screenshotAndRethrow(ExtensionContext test, Throwable failure) throws Throwable {
        if (browser != null) {
            try {
                Files.createDirectories(SCREENSHOTS);
                Path shot = browser.getScreenshotAs(OutputType.FILE).toPath();
                Path target = SCREENSHOTS.resolve(test.getRequiredTestMethod().getName() + ".png");
                Files.copy(shot, target, StandardCopyOption.REPLACE_EXISTING);
                failure.addSuppressed(new AssertionError("Screenshot of the page: " + target.toAbsolutePath()));
            } catch (RuntimeException | IOException screenshotFailed) {
                failure.addSuppressed(screenshotFailed);
            }
        }
        throw failure;
    }
}
