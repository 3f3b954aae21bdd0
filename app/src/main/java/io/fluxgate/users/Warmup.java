package io.fluxgate.users;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import io.fluxgate.security.TokenService;
import io.netty.handler.codec.http.HttpHeaderNames;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.web.server.context.WebServerInitializedEvent;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.event.EventListener;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;

/**
 * Serves the hot routes to itself, over loopback HTTP, before the service reports ready: a fresh JVM
 * interprets its code and compiles it only once it has run hot, so without this a new pod answers its
 * first minute of traffic at a fraction of its warm rate (bench/run-rest.sh measures both). It runs
 * until the JIT compiler has gone quiet ({@link JitActivity}), or for {@code max-duration} at most.
 *
 * <p>Readiness turns UP only after application runners finish, so the pod gets no traffic meanwhile;
 * liveness is already UP, so the startup probe passes. The requests read one active user with a token
 * minted here for it (USER role only, lives as long as the warm-up, never leaves the process), plus
 * the liveness probe. They change nothing: the warm-up user's activity is not recorded. With no user
 * in the database only the probe is exercised. {@code fluxgate.warmup.max-duration} 0 turns it off;
 * a shutdown stops it at once.
 */
@Component
@Order(Ordered.LOWEST_PRECEDENCE)
class Warmup implements ApplicationRunner {

    private static final Logger log = LoggerFactory.getLogger(Warmup.class);

    /**
     * @param maxDuration the longest the service exercises itself before it reports ready; 0 for not at all
     * @param connections concurrent loopback connections
     */
    @ConfigurationProperties("fluxgate.warmup")
    record Settings(Duration maxDuration, int connections) {
    }

    private final Settings settings;
    private final DatabaseClient db;
    private final TokenService tokens;
    private volatile int port = -1;
    private volatile long warmingUser = -1;
    private volatile boolean closing;

    Warmup(Settings settings, DatabaseClient db, TokenService tokens) {
        this.settings = settings;
        this.db = db;
        this.tokens = tokens;
    }

    @EventListener
    void serverStarted(WebServerInitializedEvent event) {
        // The application's own server; a separate management server has a namespace of its own.
        if (event.getApplicationContext().getServerNamespace() == null) {
            port = event.getWebServer().getPort();
        }
    }

    @EventListener
    void closing(ContextClosedEvent event) {
        closing = true;
    }

    /** True for the user the warm-up reads as, while it runs: its requests are not activity. */
    boolean isWarmingUpAs(String userId) {
        long user = warmingUser;
        return user >= 0 && Long.toString(user).equals(userId);
    }

    @Override
    public void run(ApplicationArguments args) {
        if (settings.maxDuration().isZero() || settings.maxDuration().isNegative() || port <= 0) {
            return;
        }
        long started = System.nanoTime();
        AtomicLong requests = new AtomicLong();
        JitActivity jit = new JitActivity(ManagementFactory.getCompilationMXBean());
        Disposable watch = Flux.interval(JitActivity.WINDOW, Schedulers.parallel()).subscribe(tick -> jit.sample());
        ConnectionProvider connections = ConnectionProvider.builder("warmup")
                .maxConnections(settings.connections())
                .build();
        try {
            HttpClient client = HttpClient.create(connections).baseUrl("http://127.0.0.1:" + port);
            List<Request> mix = requests(client);
            long deadline = started + settings.maxDuration().toNanos();
            Flux.range(0, settings.connections())
                    .flatMap(worker -> Mono.defer(() -> send(mix.get((int) (requests.getAndIncrement() % mix.size()))))
                            .repeat(() -> System.nanoTime() < deadline && !jit.settled() && !closing),
                            settings.connections())
                    .then()
                    .block(settings.maxDuration().plusSeconds(30));
            log.info("Warm-up: {} requests in {} ms ({})", requests.get(), (System.nanoTime() - started) / 1_000_000,
                    jit.settled() ? "the JIT compiler went quiet" : closing ? "shutting down" : "time limit reached");
        } catch (RuntimeException e) {
            // A warm-up that fails costs speed, never availability.
            log.warn("Warm-up stopped early after {} requests: {}", requests.get(), e.toString());
        } finally {
            warmingUser = -1;
            watch.dispose();
            connections.dispose();
        }
    }

    /**
     * Whether the JIT compiler has finished with the code the load runs: it spent under 5% of a
     * second compiling in each of the last three seconds. Without compile-time monitoring in the JVM
     * it never settles and the warm-up runs its maximum.
     */
    static final class JitActivity {

        static final Duration WINDOW = Duration.ofSeconds(1);
        private static final long QUIET_MILLIS = 50;
        private static final int QUIET_WINDOWS = 3;

        private final CompilationMXBean compiler;
        private long lastTotal = -1;
        private int quietWindows;
        private volatile boolean settled;

        JitActivity(CompilationMXBean compiler) {
            this.compiler = compiler;
        }

        /** Called once per window, from one thread. */
        void sample() {
            if (compiler == null || !compiler.isCompilationTimeMonitoringSupported()) {
                return;
            }
            long total = compiler.getTotalCompilationTime();
            if (lastTotal >= 0) {
                quietWindows = total - lastTotal < QUIET_MILLIS ? quietWindows + 1 : 0;
                settled = quietWindows >= QUIET_WINDOWS;
            }
            lastTotal = total;
        }

        boolean settled() {
            return settled;
        }
    }

    private record Request(HttpClient client, String path) {
    }

    /** Four reads of one user for every probe: the read is the route that matters. */
    private List<Request> requests(HttpClient client) {
        Request probe = new Request(client, "/actuator/health/liveness");
        Request read = db.sql("SELECT id, token_version FROM users WHERE status = 'active' ORDER BY id LIMIT 1")
                .map(row -> {
                    long id = row.get("id", Long.class);
                    String token = tokens.issue(id, List.of(TokenService.USER), row.get("token_version", Long.class),
                            settings.maxDuration().plusSeconds(30)).token();
                    warmingUser = id;
                    return new Request(client.headers(headers -> headers.set(HttpHeaderNames.AUTHORIZATION,
                            "Bearer " + token)), "/api/users/" + id);
                })
                .one()
                .onErrorResume(error -> Mono.empty())
                .block(Duration.ofSeconds(10));
        return read == null ? List.of(probe) : List.of(read, read, read, read, probe);
    }

    private static Mono<Integer> send(Request request) {
        return request.client().get().uri(request.path())
                .responseSingle((response, body) -> body.asByteArray().then(Mono.just(response.status().code())))
                .onErrorReturn(0);
    }
}
