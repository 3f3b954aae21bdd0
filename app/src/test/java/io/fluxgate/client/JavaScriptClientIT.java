package io.fluxgate.client;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.fluxgate.support.LocalPostgres;
import io.fluxgate.support.MongoServers;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The JavaScript client's own tests (clients/js/test, Node's test runner), run against the packaged
 * jar: they start the service themselves (so they can restart it), put a TCP proxy in front of it,
 * and check what an application sees through drops, a restart, expiring and invalid tokens, SSE,
 * limits and a long run; and lint the OpenAPI description. Here they get a fresh database, the
 * in-process MongoDB, Redis and a signing secret (the tests set short-lived tokens and a low
 * per-user session limit themselves). Output: target/js-client-tests.log.
 */
class JavaScriptClientIT {

    private static final Path CLIENT = Path.of("..", "clients", "js").toAbsolutePath().normalize();
    private static final Path LOG = Path.of("target", "js-client-tests.log").toAbsolutePath();
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @Test
    void theClientKeepsItsPromisesAgainstTheRealService() throws Exception {
        requireNode();
        installDevDependencies();
        LocalPostgres postgres = LocalPostgres.fromEnvironment();
        String database = postgres.throwawayDatabase();
        ProcessBuilder node = new ProcessBuilder("node", "--experimental-websocket", "--expose-gc", "--test",
                "--test-concurrency=1", "--test-timeout=300000", "--test-reporter=spec",
                "test/client.test.mjs", "test/package.test.mjs", "test/parser.test.mjs")
                .directory(CLIENT.toFile()).redirectErrorStream(true).redirectOutput(LOG.toFile());
        Map<String, String> env = node.environment();
        env.put("FLUXGATE_JAR", jar().toString());
        env.put("JAVA", JAVA);
        env.put("FLUXGATE_DB_HOST", postgres.host());
        env.put("FLUXGATE_DB_PORT", Integer.toString(postgres.port()));
        env.put("FLUXGATE_DB_USERNAME", postgres.username());
        env.put("FLUXGATE_DB_PASSWORD", postgres.password());
        env.put("FLUXGATE_DB_NAME", database);
        env.put("PGHOST", postgres.host());
        env.put("PGPORT", Integer.toString(postgres.port()));
        env.put("PGUSER", postgres.username());
        env.put("PGPASSWORD", postgres.password());
        env.put("PGDATABASE", database);
        env.put("SPRING_DATA_REDIS_HOST", "127.0.0.1");
        env.put("MONGODB_URI", MongoServers.freshDatabaseUri());
        env.put("FLUXGATE_SECURITY_JWT_SECRET", "client-tests-secret-0123456789abcdefghijkl");
        Process tests = node.start();
        boolean finished = tests.waitFor(20, TimeUnit.MINUTES);
        if (!finished) {
            tests.descendants().forEach(ProcessHandle::destroyForcibly);
            tests.destroyForcibly();
        }
        assertThat(finished && tests.exitValue() == 0).as("node --test in clients/js passed\n" + tail()).isTrue();
        assertThat(Files.readString(LOG)).contains("ℹ fail 0").doesNotContain("ℹ pass 0");
    }

    private static void requireNode() throws Exception {
        boolean present;
        try {
            Process version = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
            present = version.waitFor(30, TimeUnit.SECONDS) && version.exitValue() == 0
                    && supported(new String(version.getInputStream().readAllBytes()).trim());
        } catch (IOException missing) {
            present = false;
        }
        if (!present && "1".equals(System.getenv("FLUXGATE_REQUIRE_NODE"))) {
            throw new IllegalStateException("FLUXGATE_REQUIRE_NODE is set but Node.js 20.19+ or 22.12+ is not on the PATH");
        }
        Assumptions.assumeTrue(present, "Node.js 20.19+ or 22.12+ is not installed; the JavaScript client's tests are skipped");
    }

    /** What the tests and their lint tool run on: 20.19+ (a global WebSocket behind a flag) or 22.12+. */
    static boolean supported(String version) {
        java.util.regex.Matcher parts = java.util.regex.Pattern.compile("v(\\d+)\\.(\\d+)\\..*").matcher(version);
        if (!parts.matches()) {
            return false;
        }
        int major = Integer.parseInt(parts.group(1));
        int minor = Integer.parseInt(parts.group(2));
        return major == 20 && minor >= 19 || major == 22 && minor >= 12 || major > 22;
    }

    /** The OpenAPI linter and the TypeScript compiler, pinned by clients/js/package-lock.json. */
    private static void installDevDependencies() throws Exception {
        if (Files.isExecutable(CLIENT.resolve("node_modules/.bin/redocly"))
                && Files.isExecutable(CLIENT.resolve("node_modules/.bin/tsc"))) {
            return;
        }
        Process install = new ProcessBuilder("npm", "ci", "--no-audit", "--no-fund")
                .directory(CLIENT.toFile()).redirectErrorStream(true).redirectOutput(LOG.toFile()).start();
        assertThat(install.waitFor(10, TimeUnit.MINUTES) && install.exitValue() == 0)
                .as("npm ci in clients/js\n" + tail()).isTrue();
    }

    private static Path jar() throws IOException {
        try (Stream<Path> files = Files.list(Path.of("target"))) {
            return files.filter(file -> file.getFileName().toString().matches("fluxgate-app-.*\\.jar")).findFirst()
                    .orElseThrow(() -> new AssertionError("no packaged jar in target/ (run through mvn verify)"))
                    .toAbsolutePath();
        }
    }

    private static String tail() {
        try {
            String text = Files.readString(LOG);
            return text.length() > 12000 ? text.substring(text.length() - 12000) : text;
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
