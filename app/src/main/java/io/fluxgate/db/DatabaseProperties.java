package io.fluxgate.db;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Where PostgreSQL is and how the two named pools behave. Defaults live in {@code application.yaml};
 * every field can be set from the environment ({@code FLUXGATE_DB_HOST}, {@code FLUXGATE_DB_POOLS_PRIMARY_MAX_SIZE}, ...).
 *
 * @param host server host name
 * @param port server port
 * @param name database name
 * @param username login role
 * @param password login password, empty for trust or peer authentication
 * @param slowQueryThreshold statements slower than this are logged (SQL only, never bind values)
 * @param pools sizing and timeouts of each named pool
 */
@ConfigurationProperties("fluxgate.db")
public record DatabaseProperties(
        String host,
        int port,
        String name,
        String username,
        @DefaultValue("") String password,
        Duration slowQueryThreshold,
        Pools pools) {

    /** The two named pools: request traffic and reporting traffic kept apart. */
    public record Pools(Pool primary, Pool analytics) {
    }

    /**
     * @param maxSize most connections the pool opens
     * @param minIdle connections kept open while idle
     * @param maxIdleTime an idle connection older than this is closed
     * @param acquireTimeout how long a caller waits for a connection before the request fails with 503
     * @param validationQuery run on every acquire (a round trip each), so a dead connection is found
     *        and replaced before a request gets it; empty checks locally instead (is the socket
     *        open?), which is free and catches a restart or a terminated backend, but not a
     *        connection whose host vanished without closing it
     */
    public record Pool(int maxSize, int minIdle, Duration maxIdleTime, Duration acquireTimeout, String validationQuery) {
    }
}
