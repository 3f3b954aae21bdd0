package io.fluxgate.deploy;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertySource;
import org.springframework.boot.convert.DurationStyle;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.EnumerablePropertySource;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.core.io.ClassPathResource;

import static io.fluxgate.deploy.Manifests.path;
import static org.assertj.core.api.Assertions.assertThat;

/** The invariants of {@code k8s/}, checked on what {@code kubectl kustomize} renders for each overlay. */
class KubernetesManifestTest {

    static Manifests dev;
    static Manifests prod;

    @BeforeAll
    static void render() {
        dev = Manifests.render("dev");
        prod = Manifests.render("prod");
    }

    @Test
    void replicasAndRollout() {
        assertThat(path(deployment(dev), "spec.replicas")).isEqualTo(2);
        assertThat(path(deployment(prod), "spec.replicas")).isEqualTo(3);
        for (Manifests manifests : List.of(dev, prod)) {
            Map<String, Object> deployment = deployment(manifests);
            assertThat(path(deployment, "spec.strategy.type")).isEqualTo("RollingUpdate");
            assertThat(path(deployment, "spec.strategy.rollingUpdate.maxUnavailable")).isEqualTo(0);
            Map<String, Object> hpa = manifests.one("HorizontalPodAutoscaler", "fluxgate");
            assertThat(path(hpa, "spec.scaleTargetRef.kind")).isEqualTo("Deployment");
            assertThat(path(hpa, "spec.scaleTargetRef.name")).isEqualTo("fluxgate");
            assertThat(path(hpa, "spec.minReplicas")).isEqualTo(path(deployment, "spec.replicas"));
            assertThat(path(hpa, "spec.metrics.0.resource.name")).isEqualTo("cpu");
            Map<String, Object> pdb = manifests.one("PodDisruptionBudget", "fluxgate");
            assertThat(path(pdb, "spec.maxUnavailable")).isEqualTo(1);
            assertThat(path(pdb, "spec.selector.matchLabels")).isEqualTo(path(deployment, "spec.selector.matchLabels"));
        }
    }

    @Test
    void probesUseTheActuatorPathsAndShutdownDrainsFirst() {
        for (Manifests manifests : List.of(dev, prod)) {
            Map<String, Object> deployment = deployment(manifests);
            Object app = path(deployment, "spec.template.spec.containers.0");
            assertThat(path(app, "readinessProbe.httpGet.path")).isEqualTo("/actuator/health/readiness");
            assertThat(path(app, "livenessProbe.httpGet.path")).isEqualTo("/actuator/health/liveness");
            assertThat(path(app, "startupProbe.httpGet.path")).isEqualTo("/actuator/health/liveness");
            List<?> preStop = (List<?>) path(app, "lifecycle.preStop.exec.command");
            assertThat(preStop).first().isEqualTo("sleep");
            long preStopSeconds = Long.parseLong(String.valueOf(preStop.get(1)));
            Duration drain = DurationStyle.detectAndParse(
                    manifests.podEnvironment().get("SPRING_LIFECYCLE_TIMEOUT_PER_SHUTDOWN_PHASE"));
            int grace = (int) path(deployment, "spec.template.spec.terminationGracePeriodSeconds");
            assertThat(grace).as("grace period covers preStop and the drain").isGreaterThan((int) (preStopSeconds + drain.toSeconds()));
        }
    }

    @Test
    void podsRunLockedDown() {
        for (Manifests manifests : List.of(dev, prod)) {
            Object pod = path(deployment(manifests), "spec.template.spec");
            assertThat(path(pod, "automountServiceAccountToken")).isEqualTo(false);
            assertThat(path(pod, "securityContext.runAsNonRoot")).isEqualTo(true);
            Set<String> emptyDirs = ((List<?>) path(pod, "volumes")).stream()
                    .filter(volume -> path(volume, "emptyDir") != null).map(volume -> (String) path(volume, "name"))
                    .collect(Collectors.toSet());
            for (Object container : containers(pod)) {
                String name = (String) path(container, "name");
                assertThat(path(container, "securityContext.readOnlyRootFilesystem")).as(name).isEqualTo(true);
                assertThat(path(container, "securityContext.allowPrivilegeEscalation")).as(name).isEqualTo(false);
                assertThat(list(path(container, "securityContext.capabilities.drop"))).as(name).containsExactly("ALL");
                for (String resource : List.of("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")) {
                    assertThat(path(container, "resources." + resource)).as(name + " " + resource).isNotNull();
                }
                assertThat(String.valueOf(env(container).get("JAVA_TOOL_OPTIONS"))).as(name).contains("-XX:MaxRAMPercentage=");
                Object tmp = ((List<?>) path(container, "volumeMounts")).stream()
                        .filter(mount -> "/tmp".equals(path(mount, "mountPath"))).findFirst().orElse(null);
                assertThat(tmp).as(name + " has a writable /tmp").isNotNull();
                assertThat(emptyDirs).contains((String) path(tmp, "name"));
                assertThat(path(container, "image")).isEqualTo(path(pod, "containers.0.image"));
            }
        }
    }

    /** The image the pods run: a JRE and the jar's layers, as the non-root user the pods require. */
    @Test
    void theImageIsAJreWithTheJarsLayersRunAsTheNonRootUser() throws IOException {
        List<String> lines = Files.readAllLines(Manifests.K8S.resolve("Dockerfile"));
        List<String> stages = lines.stream().filter(line -> line.startsWith("FROM ")).toList();
        assertThat(stages).as("multi-stage").hasSizeGreaterThanOrEqualTo(2);
        assertThat(stages.get(stages.size() - 1)).matches("FROM eclipse-temurin:17-jre\\b.*");
        List<String> last = lines.subList(lines.indexOf(stages.get(stages.size() - 1)), lines.size());
        assertThat(last).noneMatch(line -> line.matches("(?i).*\\b(mvn|mvnw|apt-get|jdk)\\b.*"));
        for (String layer : List.of("dependencies", "spring-boot-loader", "snapshot-dependencies", "application")) {
            assertThat(last).anyMatch(line -> line.startsWith("COPY --from=") && line.contains("/" + layer + "/"));
        }
        String user = last.stream().filter(line -> line.startsWith("USER ")).findFirst().orElseThrow().substring(5).trim();
        Object pod = path(deployment(prod), "spec.template.spec");
        assertThat(user).isEqualTo(path(pod, "securityContext.runAsUser") + ":" + path(pod, "securityContext.runAsGroup"));
        assertThat(String.join("\n", lines)).contains("extract --layers --launcher")
                .contains("ENTRYPOINT [\"java\", \"org.springframework.boot.loader.launch.JarLauncher\"]");
    }

    @Test
    void migrationsRunOnceBeforeTheServiceNotInEveryReplica() {
        for (Manifests manifests : List.of(dev, prod)) {
            Object init = path(deployment(manifests), "spec.template.spec.initContainers.0");
            assertThat(list(path(init, "command"))).contains("io.fluxgate.db.MigrateCommand");
            assertThat(manifests.podEnvironment()).containsEntry("SPRING_FLYWAY_ENABLED", "false");
        }
    }

    @Test
    void serviceIngressAndNetworkPolicySuitWebSockets() {
        for (Manifests manifests : List.of(dev, prod)) {
            Map<String, Object> service = manifests.one("Service", "fluxgate");
            assertThat(path(service, "spec.ports.0.targetPort")).isEqualTo("http");
            assertThat(path(service, "spec.sessionAffinity")).isEqualTo("None");
            Map<String, String> annotations = Manifests.strings(path(manifests.one("Ingress", "fluxgate"), "metadata.annotations"));
            assertThat(Integer.parseInt(annotations.get("nginx.ingress.kubernetes.io/proxy-read-timeout"))).isGreaterThanOrEqualTo(3600);
            assertThat(annotations).containsEntry("nginx.ingress.kubernetes.io/proxy-buffering", "off");

            Map<String, Object> policy = manifests.one("NetworkPolicy", "fluxgate");
            assertThat(list(path(policy, "spec.policyTypes"))).containsExactlyInAnyOrder("Ingress", "Egress");
            assertThat(ports(path(policy, "spec.ingress"))).containsExactly(8080);
            assertThat(ports(path(policy, "spec.egress"))).containsExactlyInAnyOrder(5432, 27017, 6379, 53);
        }
    }

    @Test
    void devRunsItsOwnStoresAndProdNone() {
        Map<String, Object> postgres = dev.one("StatefulSet", "postgres");
        assertThat((String) path(postgres, "spec.template.spec.containers.0.image")).startsWith("postgres:15");
        Map<String, Object> mongo = dev.one("StatefulSet", "mongo");
        assertThat(list(path(mongo, "spec.template.spec.containers.0.args"))).contains("--replSet");
        assertThat(dev.podEnvironment().get("MONGODB_URI")).contains("replicaSet=");
        dev.one("Deployment", "redis");
        assertThat(prod.all("StatefulSet")).isEmpty();
        assertThat(prod.all("Deployment")).hasSize(1);
    }

    /**
     * No secret value is committed: prod renders no Secret at all; dev's are generated on the machine
     * that applies it (random, never placeholders, which start-up would refuse); the example Secret
     * holds placeholders only.
     */
    @Test
    void noCommittedSecretValues() throws IOException {
        assertThat(prod.all("Secret")).isEmpty();
        for (String container : List.of("containers.0", "initContainers.0")) {
            Object envFrom = path(deployment(prod), "spec.template.spec." + container + ".envFrom");
            assertThat(list(envFrom).stream().map(source -> path(source, "secretRef.name")))
                    .as(container + " reads the Secret you create").contains("fluxgate-secrets");
        }
        Map<String, String> generated = dev.secret();
        assertThat(generated).containsKeys("FLUXGATE_SECURITY_JWT_SECRET", "FLUXGATE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
                "FLUXGATE_DB_PASSWORD", "SPRING_DATA_REDIS_PASSWORD", "MONGODB_URI");
        Map<String, String> again = Manifests.render("dev").secret();
        for (String key : List.of("FLUXGATE_SECURITY_JWT_SECRET", "FLUXGATE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
                "FLUXGATE_DB_PASSWORD", "SPRING_DATA_REDIS_PASSWORD")) {
            assertThat(generated.get(key)).as(key).hasSizeGreaterThanOrEqualTo(32).doesNotContainIgnoringCase("replace")
                    .doesNotContain("\n").isNotEqualTo(again.get(key));
        }
        String example = Files.readString(Manifests.K8S.resolve("base/secret-example/secret.yaml"));
        Map<String, String> placeholders = Manifests.strings(path(new org.yaml.snakeyaml.Yaml().load(example), "stringData"));
        placeholders.forEach((key, value) -> assertThat(value).as(key).contains("REPLACE_ME"));
        assertThat(placeholders.keySet()).containsAll(generated.keySet());
    }

    /**
     * Every variable the manifests set is a setting the application reads (by Spring Boot's relaxed
     * binding, the same rules the running service applies), and every setting of the application and
     * of the README's configuration table is set.
     */
    @Test
    void environmentNamesMatchTheApplicationsSettings() throws IOException {
        Set<String> known = knownProperties();
        Set<String> placeholders = placeholderVariables();
        for (Manifests manifests : List.of(dev, prod)) {
            for (String name : manifests.podEnvironment().keySet()) {
                ConfigurationPropertySource single = source(Map.of(name, "x"));
                boolean bound = placeholders.contains(name) || known.stream()
                        .anyMatch(property -> single.getConfigurationProperty(ConfigurationPropertyName.of(property)) != null);
                assertThat(bound).as("%s is a setting of the application", name).isTrue();
            }
        }
        ConfigurationPropertySource pod = source(dev.podEnvironment());
        Set<String> unset = new TreeSet<>();
        for (String property : applicationYamlKeys()) {
            if (property.startsWith("fluxgate.") && pod.getConfigurationProperty(ConfigurationPropertyName.of(property)) == null) {
                unset.add(property);
            }
        }
        assertThat(unset).as("settings of application.yaml the ConfigMap does not set").isEmpty();
        Set<String> documented = readmeVariables();
        // Optional switches of libraries, documented for operators but left at their defaults here.
        documented.removeAll(Set.of("SPRING_R2DBC_URL", "SPRING_R2DBC_USERNAME", "SPRING_R2DBC_PASSWORD", "SPRING_MONGODB_URI",
                "SPRINGDOC_SWAGGERUI_ENABLED"));
        assertThat(dev.podEnvironment().keySet()).containsAll(documented);
        assertThat(prod.configMap()).isNotNull();
    }

    private static ConfigurationPropertySource source(Map<String, ?> env) {
        @SuppressWarnings("unchecked")
        Map<String, Object> values = (Map<String, Object>) env;
        return ConfigurationPropertySource.from(new SystemEnvironmentPropertySource("k8s", values));
    }

    /** application.yaml's keys and the properties Spring Boot's modules declare in their metadata. */
    private static Set<String> knownProperties() throws IOException {
        Set<String> known = new HashSet<>(applicationYamlKeys());
        JsonMapper json = JsonMapper.builder().build();
        Enumeration<URL> metadata = KubernetesManifestTest.class.getClassLoader()
                .getResources("META-INF/spring-configuration-metadata.json");
        while (metadata.hasMoreElements()) {
            try (InputStream in = metadata.nextElement().openStream()) {
                for (JsonNode property : json.readTree(in).path("properties")) {
                    known.add(property.path("name").asString());
                }
            }
        }
        known.removeIf(name -> !ConfigurationPropertyName.isValid(name));
        return known;
    }

    private static Set<String> applicationYamlKeys() throws IOException {
        Set<String> keys = new TreeSet<>();
        new YamlPropertySourceLoader().load("application", new ClassPathResource("application.yaml"))
                .forEach(source -> keys.addAll(List.of(((EnumerablePropertySource<?>) source).getPropertyNames())));
        // A list's elements (admin-emails[0]) are one setting.
        return keys.stream().map(key -> key.replaceAll("\\[\\d+]$", "")).collect(Collectors.toCollection(TreeSet::new));
    }

    /** Variables application.yaml reads directly, as in {@code ${PORT:8080}}. */
    private static Set<String> placeholderVariables() throws IOException {
        String yaml = new ClassPathResource("application.yaml").getContentAsString(StandardCharsets.UTF_8);
        Set<String> names = new HashSet<>();
        Matcher matcher = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*)[:}]").matcher(yaml);
        while (matcher.find()) {
            names.add(matcher.group(1));
        }
        return names;
    }

    /** The variable names in the first column of the README's configuration table. */
    private static Set<String> readmeVariables() throws IOException {
        String readme = Files.readString(Path.of("..", "README.md"));
        String section = readme.substring(readme.indexOf("## Configuration"));
        section = section.substring(0, section.indexOf("\n## ", 1));
        Set<String> names = new TreeSet<>();
        for (String line : section.split("\n")) {
            if (line.startsWith("| `")) {
                Matcher matcher = Pattern.compile("`([A-Z][A-Z0-9_]+)`").matcher(line.split(" \\| ")[0]);
                while (matcher.find()) {
                    names.add(matcher.group(1));
                }
            }
        }
        assertThat(names).as("variables in the README's table").hasSizeGreaterThan(40);
        return names;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object value) {
        return (List<Object>) value;
    }

    private static Map<String, Object> deployment(Manifests manifests) {
        return manifests.one("Deployment", "fluxgate");
    }

    private static List<Object> containers(Object pod) {
        List<Object> all = new java.util.ArrayList<>((List<?>) path(pod, "containers"));
        Object init = path(pod, "initContainers");
        if (init != null) {
            all.addAll((List<?>) init);
        }
        return all;
    }

    private static Map<String, String> env(Object container) {
        Map<String, String> env = new java.util.LinkedHashMap<>();
        Object list = path(container, "env");
        if (list instanceof List<?> entries) {
            entries.forEach(entry -> env.put((String) path(entry, "name"), String.valueOf(path(entry, "value"))));
        }
        return env;
    }

    private static Set<Integer> ports(Object rules) {
        Set<Integer> ports = new HashSet<>();
        for (Object rule : (List<?>) rules) {
            for (Object port : (List<?>) path(rule, "ports")) {
                ports.add((Integer) path(port, "port"));
            }
        }
        return ports;
    }

}
