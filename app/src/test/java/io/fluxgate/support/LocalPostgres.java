package io.fluxgate.support;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

import org.springframework.test.context.DynamicPropertyRegistrar;

/**
 * A PostgreSQL server reached directly (the machine's own, or one named by {@code FLUXGATE_DB_*}).
 * Creates databases for dev runs and throwaway databases for test runs.
 */
public record LocalPostgres(String host, int port, String username, String password) {

    /** The server named by {@code FLUXGATE_DB_*} when set, else 127.0.0.1:5432 as {@code postgres}. */
    public static LocalPostgres fromEnvironment() {
        return new LocalPostgres(
                env("FLUXGATE_DB_HOST", "127.0.0.1"),
                Integer.parseInt(env("FLUXGATE_DB_PORT", "5432")),
                env("FLUXGATE_DB_USERNAME", "postgres"),
                env("FLUXGATE_DB_PASSWORD", ""));
    }

    static boolean explicitlyConfigured() {
        return System.getenv("FLUXGATE_DB_HOST") != null;
    }

    /** Creates {@code name} unless it exists. */
    public void ensureDatabase(String name) {
        try (Connection admin = connect("postgres");
                PreparedStatement exists = admin.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
            exists.setString(1, name);
            try (ResultSet rows = exists.executeQuery()) {
                if (!rows.next()) {
                    try (Statement create = admin.createStatement()) {
                        create.execute("CREATE DATABASE " + quote(name));
                    }
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot reach PostgreSQL at " + host + ":" + port + " as " + username
                    + " to create database " + name + " (is it running?)", e);
        }
    }

    /** A new, empty database dropped when the JVM exits. */
    public String throwawayDatabase() {
        String name = "fluxgate_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        ensureDatabase(name);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> drop(name), "drop-" + name));
        return name;
    }

    public void drop(String name) {
        try (Connection admin = connect("postgres"); Statement drop = admin.createStatement()) {
            dropSlots(admin, name);
            drop.execute("DROP DATABASE IF EXISTS " + quote(name) + " WITH (FORCE)");
        } catch (SQLException e) {
            System.err.println("Could not drop test database " + name + ": " + e.getMessage());
        }
    }

    /**
     * A database with a logical replication slot cannot be dropped: the slots of logical capture
     * go first, their readers stopped (a context still closing may hold one for a moment).
     */
    private static void dropSlots(Connection admin, String database) throws SQLException {
        for (int attempt = 0; attempt < 50; attempt++) {
            try (PreparedStatement slots = admin.prepareStatement("SELECT slot_name, active_pid FROM pg_replication_slots"
                    + " WHERE database = ?")) {
                slots.setString(1, database);
                boolean any = false;
                try (ResultSet rows = slots.executeQuery()) {
                    while (rows.next()) {
                        any = true;
                        try (PreparedStatement drop = admin.prepareStatement(rows.getObject(2) != null
                                ? "SELECT pg_terminate_backend(?)" : "SELECT pg_drop_replication_slot(?)")) {
                            if (rows.getObject(2) != null) {
                                drop.setInt(1, rows.getInt(2));
                            } else {
                                drop.setString(1, rows.getString(1));
                            }
                            drop.execute();
                        } catch (SQLException raced) {
                            // Taken again or gone meanwhile: the next attempt sees.
                        }
                    }
                }
                if (!any) {
                    return;
                }
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Points the application's {@code fluxgate.db.*} settings at {@code database} on this server. */
    public DynamicPropertyRegistrar propertiesFor(String database) {
        return registry -> {
            registry.add("fluxgate.db.host", this::host);
            registry.add("fluxgate.db.port", this::port);
            registry.add("fluxgate.db.username", this::username);
            registry.add("fluxgate.db.password", this::password);
            registry.add("fluxgate.db.name", () -> database);
        };
    }

    public Connection connect(String database) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/" + database, username, password);
    }

    private static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : value;
    }
}
