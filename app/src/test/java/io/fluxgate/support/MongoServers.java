package io.fluxgate.support;

import java.net.InetSocketAddress;
import java.util.UUID;

/**
 * Where the tests' MongoDB comes from, after {@code MONGODB_URI} and Testcontainers: the in-process
 * mongo-java-server, speaking the real wire protocol on a local port, with an oplog so change
 * streams work. It has no transactions, no {@code $text} and no {@code $near}; tests that need those
 * ask {@link #isInProcess()} and are skipped here with their reason.
 */
public final class MongoServers {

    private static de.bwaldvogel.mongo.MongoServer server;

    private MongoServers() {
    }

    static boolean explicitlyConfigured() {
        return System.getenv("MONGODB_URI") != null;
    }

    /** True when the tests run against the in-process server (no explicit URI, no Docker). */
    public static boolean isInProcess() {
        return !explicitlyConfigured() && !Docker.isAvailable();
    }

    /** A connection string for a fresh database on the in-process server, started on first use. */
    public static synchronized String freshDatabaseUri() {
        if (server == null) {
            server = new de.bwaldvogel.mongo.MongoServer(new AwaitingMemoryBackend());
            server.enableOplog();
            InetSocketAddress address = server.bind();
            Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "mongo-java-server-stop"));
            System.out.println("[test services] in-process MongoDB (mongo-java-server) on port " + address.getPort());
        }
        InetSocketAddress address = server.getLocalAddress();
        return "mongodb://localhost:" + address.getPort() + "/fluxgate_test_" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** A fresh database on the server named by {@code MONGODB_URI}. */
    static String explicitDatabaseUri() {
        String uri = System.getenv("MONGODB_URI");
        String database = "fluxgate_test_" + UUID.randomUUID().toString().substring(0, 8);
        int query = uri.indexOf('?');
        String base = query < 0 ? uri : uri.substring(0, query);
        String options = query < 0 ? "" : uri.substring(query);
        int slash = base.indexOf('/', "mongodb://".length() + 1);
        return (slash < 0 ? base : base.substring(0, slash)) + "/" + database + options;
    }
}
