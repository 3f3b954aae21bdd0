package io.fluxgate;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.fluxgate.support.LocalPostgres;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A service with nobody to serve uses next to no CPU. README command 1 is started as its own
 * process (dev wiring: local PostgreSQL, the in-process MongoDB, whose change stream used to be
 * polled in a tight loop), left alone once ready, and its CPU time is read from the operating system
 * over idle windows: one of them must stay under {@link #IDLE_SHARE} of a core. (CPU time, not wall
 * time: a machine busy with other work does not change what an idle process spends.)
 */
class IdleServiceTest {

    /** Share of one core an idle service may use: its timers (listener poll, write-behind, health). */
    private static final double IDLE_SHARE = 0.05;
    private static final Duration WINDOW = Duration.ofSeconds(5);
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @Test
    void anIdleServiceUsesNextToNoCpu() throws Exception {
        LocalPostgres postgres = LocalPostgres.fromEnvironment();
        String database = postgres.throwawayDatabase();
        int port = freePort();
        Path log = Files.createTempFile("fluxgate-idle", ".log");
        ProcessBuilder builder = new ProcessBuilder(JAVA, "-cp", ManagementFactory.getRuntimeMXBean().getClassPath(),
                TestFluxgateApplication.class.getName())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("PORT", Integer.toString(port));
        builder.environment().put("FLUXGATE_DB_NAME", database);
        Process service = builder.start();
        try {
            HttpClient http = HttpClient.newHttpClient();
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).until(() -> {
                assertThat(service.isAlive()).as("the service is running; its log: %s", log).isTrue();
                return status(http, port) == 200;
            });
            List<Double> shares = new ArrayList<>();
            // Start-up's compilation and the first scheduled runs settle within a few windows.
            await().atMost(Duration.ofMinutes(2)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(1))
                    .untilAsserted(() -> {
                        double share = cpuShareOver(service, WINDOW);
                        shares.add(share);
                        assertThat(share).as("share of a core used while idle (windows so far: %s)", shares)
                                .isLessThan(IDLE_SHARE);
                    });
        } finally {
            service.destroy();
            if (!service.waitFor(30, TimeUnit.SECONDS)) {
                service.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
            postgres.drop(database);
            Files.deleteIfExists(log);
        }
    }

    /** CPU time the process spends over {@code window} of wall time, as a share of one core. */
    private static double cpuShareOver(Process process, Duration window) throws InterruptedException {
        long cpuBefore = cpuNanos(process);
        long wallBefore = System.nanoTime();
        Thread.sleep(window.toMillis()); // the measurement itself: an interval of doing nothing
        long cpu = cpuNanos(process) - cpuBefore;
        return (double) cpu / (System.nanoTime() - wallBefore);
    }

    private static long cpuNanos(Process process) {
        return process.info().totalCpuDuration().orElseThrow(() -> new AssertionError("no CPU time for the process"))
                .toNanos();
    }

    private static int status(HttpClient http, int port) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/actuator/health/readiness"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException | InterruptedException notYet) {
            return 0;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
