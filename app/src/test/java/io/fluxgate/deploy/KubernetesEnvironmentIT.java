package io.fluxgate.deploy;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.fluxgate.support.LocalPostgres;
import io.fluxgate.support.MongoServers;
import org.junit.jupiter.api.Test;

import static io.fluxgate.deploy.Manifests.path;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a pod does, off the cluster: the packaged jar is laid out as the image lays it out (Spring
 * Boot's layers, {@code k8s/Dockerfile}), the init container's migration command runs, then the
 * service starts, each with exactly the environment the dev overlay's ConfigMap and Secret give a
 * pod (and nothing from this shell), only the service endpoints pointed at this machine's servers.
 * Readiness must come UP; SIGTERM must stop it.
 */
class KubernetesEnvironmentIT {

    private static final Path WORK = Path.of("target", "k8s-pod").toAbsolutePath();
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @Test
    void theImageLayoutStartsWithTheManifestsEnvironmentAndBecomesReady() throws Exception {
        Manifests dev = Manifests.render("dev");
        Map<String, String> env = new java.util.LinkedHashMap<>(dev.podEnvironment());
        Object container = path(dev.one("Deployment", "fluxgate"), "spec.template.spec.containers.0");
        for (Object entry : (List<?>) path(container, "env")) {
            env.put((String) path(entry, "name"), String.valueOf(path(entry, "value")));
        }

        LocalPostgres postgres = LocalPostgres.fromEnvironment();
        String database = "fluxgate_k8s_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        createOwnedDatabase(postgres, env.get("FLUXGATE_DB_USERNAME"), env.get("FLUXGATE_DB_PASSWORD"), database);
        int port = freePort();
        env.put("FLUXGATE_DB_HOST", postgres.host());
        env.put("FLUXGATE_DB_PORT", String.valueOf(postgres.port()));
        env.put("FLUXGATE_DB_NAME", database);
        env.put("SPRING_DATA_REDIS_HOST", "127.0.0.1");
        env.put("MONGODB_URI", MongoServers.freshDatabaseUri());
        env.put("PORT", String.valueOf(port));

        Path app = imageLayout();
        try {
            Process migrate = start(app, env, "migrate",
                    JAVA, "-cp", "BOOT-INF/classes" + File.pathSeparator + "BOOT-INF/lib/*", "io.fluxgate.db.MigrateCommand");
            assertThat(migrate.waitFor(120, TimeUnit.SECONDS)).as("migration finished").isTrue();
            assertThat(migrate.exitValue()).as(log("migrate")).isZero();

            Process service = start(app, env, "service", JAVA, "org.springframework.boot.loader.launch.JarLauncher");
            try {
                HttpClient http = HttpClient.newHttpClient();
                long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
                int readiness = 0;
                while (readiness != 200) {
                    assertThat(service.isAlive()).as(log("service")).isTrue();
                    assertThat(System.nanoTime()).as("readiness within 120 s\n" + log("service")).isLessThan(deadline);
                    Thread.sleep(500);
                    readiness = status(http, port, "/actuator/health/readiness");
                }
                assertThat(status(http, port, "/actuator/health/liveness")).isEqualTo(200);
                // The init container did the migrating: the schema is there although the service ran with Flyway off.
                assertThat(status(http, port, "/api/users/1")).as("a protected endpoint answers").isEqualTo(401);
            } finally {
                service.destroy();
                assertThat(service.waitFor(60, TimeUnit.SECONDS)).as("stopped on SIGTERM").isTrue();
            }
            assertThat(log("service")).contains("Fluxgate listening on").doesNotContain("Migrating schema");
        } finally {
            postgres.drop(database);
        }
    }

    private static int status(HttpClient http, int port, String path) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException notYetListening) {
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }

    /** As the Dockerfile builds /app: the jar's layers extracted and copied on top of each other. */
    private static Path imageLayout() throws Exception {
        Path jar;
        try (Stream<Path> files = Files.list(Path.of("target"))) {
            jar = files.filter(file -> file.getFileName().toString().matches("fluxgate-app-.*\\.jar")).findFirst()
                    .orElseThrow(() -> new AssertionError("no packaged jar in target/ (run through mvn verify)"));
        }
        deleteTree(WORK);
        Files.createDirectories(WORK);
        Process extract = new ProcessBuilder(JAVA, "-Djarmode=tools", "-jar", jar.toAbsolutePath().toString(),
                "extract", "--layers", "--launcher", "--destination", WORK.resolve("extracted").toString())
                .redirectErrorStream(true).redirectOutput(WORK.resolve("extract.log").toFile()).start();
        assertThat(extract.waitFor(60, TimeUnit.SECONDS) && extract.exitValue() == 0).as(Files.readString(WORK.resolve("extract.log"))).isTrue();
        Path app = WORK.resolve("app");
        for (String layer : List.of("dependencies", "spring-boot-loader", "snapshot-dependencies", "application")) {
            Path from = WORK.resolve("extracted").resolve(layer);
            try (Stream<Path> tree = Files.walk(from)) {
                for (Path source : (Iterable<Path>) tree::iterator) {
                    Path target = app.resolve(from.relativize(source).toString());
                    if (Files.isDirectory(source)) {
                        Files.createDirectories(target);
                    } else {
                        Files.copy(source, target, StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        }
        return app;
    }

    private static Process start(Path directory, Map<String, String> env, String name, String... command) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).directory(directory.toFile())
                .redirectErrorStream(true).redirectOutput(WORK.resolve(name + ".log").toFile());
        builder.environment().clear();
        builder.environment().putAll(env);
        return builder.start();
    }

    private static String log(String name) {
        try {
            String text = Files.readString(WORK.resolve(name + ".log"));
            return text.length() > 6000 ? text.substring(text.length() - 6000) : text;
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** The role the manifests log in as, with the Secret's password, owning a fresh database. */
    private static void createOwnedDatabase(LocalPostgres postgres, String role, String password, String database) throws Exception {
        try (Connection admin = postgres.connect("postgres"); Statement sql = admin.createStatement()) {
            sql.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" + role + "') THEN"
                    + " CREATE ROLE \"" + role + "\" LOGIN; END IF; END $$");
            sql.execute("ALTER ROLE \"" + role + "\" PASSWORD '" + password.replace("'", "''") + "'");
            sql.execute("CREATE DATABASE \"" + database + "\" OWNER \"" + role + "\"");
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> tree = Files.walk(root)) {
            for (Path path : tree.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }
}
