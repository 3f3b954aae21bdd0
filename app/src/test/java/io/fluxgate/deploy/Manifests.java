package io.fluxgate.deploy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.yaml.snakeyaml.Yaml;

/**
 * The manifests as {@code kubectl kustomize} renders them, parsed. CI installs kubectl (see
 * {@code .ci/run}, which sets {@code FLUXGATE_REQUIRE_KUBECTL}); elsewhere a missing kubectl skips
 * the checks with a printed reason instead of failing the build.
 */
final class Manifests {

    static final Path K8S = Path.of("..", "k8s").toAbsolutePath().normalize();

    private final List<Map<String, Object>> documents;

    private Manifests(List<Map<String, Object>> documents) {
        this.documents = documents;
    }

    /**
     * Renders an overlay from a copy of {@code k8s/}, with the dev overlay's secrets freshly generated
     * there by its own script (as a newcomer would), so no secret of this checkout is read or written.
     */
    static Manifests render(String overlay) {
        requireKubectl();
        try {
            Path copy = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "k8s-");
            copyTree(K8S, copy);
            Process generate = new ProcessBuilder("bash", copy.resolve("overlays/dev/generate-secrets.sh").toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!generate.waitFor(60, TimeUnit.SECONDS) || generate.exitValue() != 0) {
                throw new IllegalStateException("generate-secrets.sh failed");
            }
            Process kubectl = new ProcessBuilder("kubectl", "kustomize", copy.resolve("overlays").resolve(overlay).toString())
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
            String yaml = new String(kubectl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!kubectl.waitFor(60, TimeUnit.SECONDS) || kubectl.exitValue() != 0) {
                throw new IllegalStateException("kubectl kustomize " + overlay + " failed");
            }
            List<Map<String, Object>> documents = new ArrayList<>();
            for (Object document : new Yaml().loadAll(yaml)) {
                if (document != null) {
                    documents.add(map(document));
                }
            }
            return new Manifests(documents);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (java.util.stream.Stream<Path> tree = Files.walk(from)) {
            for (Path source : tree.toList()) {
                Path relative = from.relativize(source);
                if (relative.startsWith(Path.of("overlays", "dev", "secrets"))) {
                    continue;
                }
                Path target = to.resolve(relative.toString());
                if (Files.isDirectory(source)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(source, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    private static void requireKubectl() {
        boolean found = System.getenv("PATH") != null && java.util.Arrays.stream(System.getenv("PATH").split(":"))
                .anyMatch(dir -> Files.isExecutable(Path.of(dir, "kubectl")));
        if (!found && System.getenv("FLUXGATE_REQUIRE_KUBECTL") != null) {
            throw new IllegalStateException("kubectl not found; install Debian's kubernetes-client (see .ci/run)");
        }
        Assumptions.assumeTrue(found, "kubectl not found: the Kubernetes manifest checks need it (apt-get install kubernetes-client)");
    }

    List<Map<String, Object>> all(String kind) {
        return documents.stream().filter(document -> kind.equals(document.get("kind"))).toList();
    }

    Map<String, Object> one(String kind, String name) {
        return all(kind).stream().filter(document -> name.equals(path(document, "metadata.name")))
                .findFirst().orElseThrow(() -> new AssertionError("no " + kind + " named " + name));
    }

    /** The ConfigMap the Deployment uses (its name carries a content hash). */
    Map<String, Object> configMap() {
        List<Map<String, Object>> maps = all("ConfigMap").stream()
                .filter(map -> String.valueOf(path(map, "metadata.name")).startsWith("fluxgate-config")).toList();
        if (maps.size() != 1) {
            throw new AssertionError("expected one fluxgate-config ConfigMap, found " + maps.size());
        }
        return maps.get(0);
    }

    /** The environment a Fluxgate pod gets: the ConfigMap's data, then the Secret's, if rendered. */
    Map<String, String> podEnvironment() {
        Map<String, String> env = new LinkedHashMap<>();
        strings(path(configMap(), "data")).forEach(env::put);
        env.putAll(secret());
        return env;
    }

    /** The values of the Secret {@code fluxgate-secrets}, decoded; empty when none is rendered. */
    Map<String, String> secret() {
        Map<String, String> values = new LinkedHashMap<>();
        all("Secret").stream().filter(secret -> "fluxgate-secrets".equals(path(secret, "metadata.name")))
                .forEach(secret -> {
                    strings(path(secret, "data")).forEach((key, encoded) -> values.put(key,
                            new String(java.util.Base64.getMimeDecoder().decode(encoded), StandardCharsets.UTF_8)));
                    strings(path(secret, "stringData")).forEach(values::put);
                });
        return values;
    }

    /** A dotted path into nested maps; list elements by index ({@code containers.0.name}). */
    static Object path(Object root, String dotted) {
        Object current = root;
        for (String part : dotted.split("\\.")) {
            if (current instanceof Map<?, ?> map) {
                current = map.get(part);
            } else if (current instanceof List<?> list && part.chars().allMatch(Character::isDigit)) {
                int index = Integer.parseInt(part);
                current = index < list.size() ? list.get(index) : null;
            } else {
                return null;
            }
        }
        return current;
    }

    static Map<String, String> strings(Object map) {
        Map<String, String> values = new LinkedHashMap<>();
        if (map instanceof Map<?, ?> entries) {
            entries.forEach((key, value) -> values.put(String.valueOf(key), Objects.toString(value, "")));
        }
        return values;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object document) {
        return (Map<String, Object>) document;
    }
}
