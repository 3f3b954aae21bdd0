package io.fluxgate.changes.capture;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.LogicalDecoding;
import io.fluxgate.support.Tx;
import io.fluxgate.support.WsClient;
import io.r2dbc.spi.ConnectionFactory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.TestPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * PostgreSQL crashes (an immediate stop: no checkpoint, so the slot may come back at an older
 * position and hand transactions the leader appended already) and restarts under writes. Every
 * acknowledged write reaches the client once, in commit order; a write whose outcome the writer
 * never learned may or may not, never twice. Needs the machine's own server and the right to
 * restart it ({@code pg_ctlcluster}, as CI has); skipped with the reason elsewhere.
 */
@TestPropertySource(properties = LogicalDecoding.LOGICAL)
class LogicalCaptureRestartIT extends IntegrationTest {

    @LocalServerPort
    int port;

    @Autowired
    ConnectionFactory connections;

    @BeforeAll
    static void aServerThisTestMayRestart() {
        LogicalDecoding.assumeAvailable();
        Assumptions.assumeTrue(System.getenv("FLUXGATE_DB_HOST") == null && Files.isDirectory(Path.of("/etc/postgresql"))
                && Files.isExecutable(Path.of("/usr/bin/pg_ctlcluster")),
                "needs the machine's own PostgreSQL and pg_ctlcluster to restart it");
    }

    @Test
    void aCrashAndRestartUnderWritesLosesAndRepeatsNothing() throws Exception {
        Account author = newUser("Crash");
        List<String> acknowledged = Collections.synchronizedList(new ArrayList<>());
        List<String> unknown = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean writing = new AtomicBoolean(true);
        try (WsClient ws = WsClient.connect(port, author.token())) {
            ExecutorService writer = Executors.newSingleThreadExecutor();
            Future<?> writes = writer.submit(() -> {
                for (int i = 0; writing.get() || acknowledged.size() < 200; i++) {
                    String title = "crash-" + i;
                    try {
                        Tx.commitPost(connections, author.id(), title);
                        acknowledged.add(title);
                    } catch (RuntimeException refused) {
                        // Down, or lost mid-commit: the outcome of this one is not known.
                        unknown.add(title);
                        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
                    }
                }
            });
            await().atMost(Duration.ofSeconds(60)).until(() -> acknowledged.size() >= 50);
            restartPostgres();
            await().atMost(Duration.ofSeconds(120)).until(() -> acknowledged.size() >= 150);
            writing.set(false);
            writes.get(120, TimeUnit.SECONDS);
            writer.shutdown();

            String last = acknowledged.get(acknowledged.size() - 1);
            List<String> received = new ArrayList<>();
            while (received.isEmpty() || !received.get(received.size() - 1).equals(last)) {
                received.add(ws.next().path("data").path("title").asString());
            }
            assertThat(received).doesNotHaveDuplicates();
            List<String> deliveredAcknowledged = received.stream().filter(acknowledged::contains).toList();
            assertThat(deliveredAcknowledged).containsExactlyElementsOf(acknowledged);
            assertThat(received).allMatch(title -> acknowledged.contains(title) || unknown.contains(title));
            ws.assertQuietFor(Duration.ofMillis(300));
        }
    }

    private static void restartPostgres() throws IOException, InterruptedException {
        String cluster = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | sort -V | tail -n 1) main";
        Process restart = new ProcessBuilder("bash", "-c", cluster + " stop -m immediate && " + cluster + " start")
                .redirectErrorStream(true).start();
        String output = new String(restart.getInputStream().readAllBytes());
        assertThat(restart.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(restart.exitValue()).as("restarting PostgreSQL: %s", output).isZero();
    }
}
