package io.fluxgate.users;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.fluxgate.db.NamedQuery;
import io.fluxgate.security.UserStandings;
import io.r2dbc.spi.Readable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Repository;

/**
 * Every users query, in one place. Values are always bind parameters; the only SQL built from a
 * request is an ORDER BY whose column comes from {@link #ORDER_COLUMNS}, a fixed whitelist.
 */
@Repository
class UserRepository implements NamedQuery.Source {

    private static final String COLUMNS = "id, name, email, status, roles, avatar, bio, last_active, created_at, updated_at";

    static final String BY_EMAIL = "SELECT " + COLUMNS + " FROM users WHERE lower(email) = lower($1)";
    static final String PAGE_AFTER = "SELECT " + COLUMNS + " FROM users WHERE id > $1 ORDER BY id LIMIT $2";
    static final String ACTIVE_SINCE = "SELECT " + COLUMNS + " FROM users WHERE status = 'active' AND last_active >= $1"
            + " ORDER BY last_active DESC, id DESC LIMIT $2";
    static final String STATS_BY_STATUS = "SELECT status, count(*) AS count,"
            + " coalesce(avg(extract(epoch FROM (now() - last_active)) / 86400), 0)::float8 AS avg_days"
            + " FROM users GROUP BY status";

    /** API field name to column: the only identifiers a request can choose. */
    static final Map<String, String> ORDER_COLUMNS = Map.of(
            "id", "id",
            "name", "name",
            "email", "email",
            "createdAt", "created_at",
            "lastActive", "last_active");

    private final DatabaseClient db;
    private final DatabaseClient analytics;

    UserRepository(DatabaseClient db, @Qualifier("analyticsDatabaseClient") DatabaseClient analytics) {
        this.db = db;
        this.analytics = analytics;
    }

    Mono<User> insert(String name, String email, String passwordHash) {
        return db.sql("INSERT INTO users (name, email, password) VALUES ($1, $2, $3) RETURNING " + COLUMNS)
                .bind(0, name).bind(1, email).bind(2, passwordHash)
                .map(UserRepository::toUser)
                .one();
    }

    Mono<User> findById(long id) {
        return db.sql("SELECT " + COLUMNS + " FROM users WHERE id = $1")
                .bind(0, id)
                .map(UserRepository::toUser)
                .one();
    }

    Mono<User> findByEmail(String email) {
        return db.sql(BY_EMAIL)
                .bind(0, email)
                .map(UserRepository::toUser)
                .one();
    }

    /** The only query that reads a password hash; used by login and the bootstrap admin alone. */
    Mono<Credentials> findCredentials(String email) {
        return db.sql("SELECT id, password, status, roles, token_version FROM users WHERE lower(email) = lower($1)")
                .bind(0, email)
                .map(row -> new Credentials(row.get("id", Long.class), row.get("password", String.class),
                        row.get("status", String.class), roles(row), row.get("token_version", Long.class)))
                .one();
    }

    record Credentials(long id, String passwordHash, String status, List<String> roles, long tokenVersion) {
    }

    /** What decides whether the user's tokens hold (see {@link io.fluxgate.security.TokenRevocation}). */
    Mono<UserStandings.Standing> findStanding(long id) {
        return db.sql("SELECT token_version, status FROM users WHERE id = $1")
                .bind(0, id)
                .map(row -> new UserStandings.Standing(row.get("token_version", Long.class),
                        "suspended".equals(row.get("status", String.class))))
                .one();
    }

    Mono<User> setRoles(long id, List<String> roles) {
        return db.sql("UPDATE users SET roles = $1 WHERE id = $2 RETURNING " + COLUMNS)
                .bind(0, roles.toArray(String[]::new)).bind(1, id)
                .map(UserRepository::toUser)
                .one();
    }

    /**
     * Creates the bootstrap admin, or makes the existing user of that address an active admin with
     * this password. One statement, so replicas starting together cannot create it twice.
     */
    Mono<User> upsertAdmin(String name, String email, String passwordHash) {
        return db.sql("INSERT INTO users (name, email, password, roles) VALUES ($1, $2, $3, '{USER,ADMIN}')"
                        + " ON CONFLICT ((lower(email))) DO UPDATE SET password = EXCLUDED.password,"
                        + " status = 'active', roles = '{USER,ADMIN}'"
                        + " RETURNING " + COLUMNS)
                .bind(0, name).bind(1, email).bind(2, passwordHash)
                .map(UserRepository::toUser)
                .one();
    }

    Mono<User> touchLastActive(long id) {
        return db.sql("UPDATE users SET last_active = now() WHERE id = $1 RETURNING " + COLUMNS)
                .bind(0, id)
                .map(UserRepository::toUser)
                .one();
    }

    /** An offset page; {@code orderBy} must already be a key of {@link #ORDER_COLUMNS}. */
    Flux<User> list(String orderBy, boolean descending, int limit, int offset) {
        String column = ORDER_COLUMNS.get(orderBy);
        if (column == null) {
            return Flux.error(new IllegalArgumentException("Not a whitelisted order column: " + orderBy));
        }
        String direction = descending ? "DESC" : "ASC";
        // id breaks ties so equal names or timestamps never shuffle between pages.
        return db.sql("SELECT " + COLUMNS + " FROM users ORDER BY " + column + " " + direction + ", id " + direction
                        + " LIMIT $1 OFFSET $2")
                .bind(0, limit).bind(1, offset)
                .map(UserRepository::toUser)
                .all();
    }

    Mono<Long> count() {
        return db.sql("SELECT count(*) AS total FROM users").map(row -> row.get("total", Long.class)).one();
    }

    /** Keyset page by id: {@code limit + 1} rows after the cursor, so new rows never shift a page. */
    Flux<User> pageAfter(long afterId, int limit) {
        return db.sql(PAGE_AFTER)
                .bind(0, afterId).bind(1, limit + 1)
                .map(UserRepository::toUser)
                .all();
    }

    /** A reporting query: runs on the analytics pool. */
    Flux<User> activeSince(Instant since, int limit) {
        return analytics.sql(ACTIVE_SINCE)
                .bind(0, since).bind(1, limit)
                .map(UserRepository::toUser)
                .all();
    }

    /** Applies the fields present in the patch; an empty string clears avatar or bio. */
    Mono<User> update(long id, UserRequests.Patch patch) {
        List<String> sets = new ArrayList<>();
        List<Object> values = new ArrayList<>();
        if (patch.name() != null) {
            sets.add("name = $" + (values.size() + 1));
            values.add(patch.name());
        }
        if (patch.email() != null) {
            sets.add("email = $" + (values.size() + 1));
            values.add(patch.email());
        }
        if (patch.avatar() != null) {
            sets.add("avatar = NULLIF($" + (values.size() + 1) + ", '')");
            values.add(patch.avatar());
        }
        if (patch.bio() != null) {
            sets.add("bio = NULLIF($" + (values.size() + 1) + ", '')");
            values.add(patch.bio());
        }
        if (patch.status() != null) {
            sets.add("status = $" + (values.size() + 1));
            values.add(patch.status());
        }
        values.add(id);
        DatabaseClient.GenericExecuteSpec spec = db.sql("UPDATE users SET " + String.join(", ", sets)
                + " WHERE id = $" + values.size() + " RETURNING " + COLUMNS);
        for (int i = 0; i < values.size(); i++) {
            spec = spec.bind(i, values.get(i));
        }
        return spec.map(UserRepository::toUser).one();
    }

    /** Deletes the user; emits its email (for cache invalidation), or nothing when there was none. */
    Mono<String> delete(long id) {
        return db.sql("DELETE FROM users WHERE id = $1 RETURNING email").bind(0, id)
                .map(row -> row.get("email", String.class)).one();
    }

    /**
     * Applies coalesced activity in one statement; a later time never moves back (a delayed batch
     * can't undo a newer login).
     */
    Mono<Long> recordActivity(Long[] ids, Instant[] times) {
        return db.sql("UPDATE users AS u SET last_active = greatest(u.last_active, v.ts)"
                        + " FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, ts) WHERE u.id = v.id")
                .bind(0, ids).bind(1, times)
                .fetch().rowsUpdated();
    }

    /** Emails among {@code emails} that already belong to a user. */
    Flux<String> existingEmails(List<String> emails) {
        return db.sql("SELECT lower(email) AS email FROM users WHERE lower(email) = ANY($1)")
                .bind(0, emails.toArray(String[]::new))
                .map(row -> row.get("email", String.class))
                .all();
    }

    /** One multi-row INSERT: all rows or none. */
    Mono<Long> insertAll(List<NewUser> users) {
        StringBuilder sql = new StringBuilder("INSERT INTO users (name, email, password) VALUES ");
        for (int i = 0; i < users.size(); i++) {
            int p = i * 3;
            sql.append(i == 0 ? "" : ", ").append("($").append(p + 1).append(", $").append(p + 2)
                    .append(", $").append(p + 3).append(')');
        }
        DatabaseClient.GenericExecuteSpec spec = db.sql(sql.toString());
        for (int i = 0; i < users.size(); i++) {
            NewUser user = users.get(i);
            spec = spec.bind(i * 3, user.name()).bind(i * 3 + 1, user.email()).bind(i * 3 + 2, user.passwordHash());
        }
        return spec.fetch().rowsUpdated();
    }

    record NewUser(String name, String email, String passwordHash) {
    }

    /** Count and mean days since last activity per status; runs on the analytics pool. */
    Mono<Map<String, StatusStats>> statsByStatus() {
        return analytics.sql(STATS_BY_STATUS)
                .map(row -> Map.entry(row.get("status", String.class),
                        new StatusStats(row.get("count", Long.class), round2(row.get("avg_days", Double.class)))))
                .all()
                .collectMap(Map.Entry::getKey, Map.Entry::getValue, LinkedHashMap::new);
    }

    record StatusStats(long count, double avgInactiveDays) {
    }

    @Override
    public List<NamedQuery> namedQueries() {
        return List.of(
                new NamedQuery("user-by-email", "A user by email, case-insensitively (login, by-email lookups)",
                        BY_EMAIL, List.of("someone@example.com")),
                new NamedQuery("users-page", "Users in id order after a cursor (keyset page)",
                        PAGE_AFTER, List.of(0L, 51)),
                new NamedQuery("active-users", "Active users seen in the last 30 days, most recent first",
                        ACTIVE_SINCE, List.of(Instant.now().minus(java.time.Duration.ofDays(30)), 50)),
                new NamedQuery("user-stats", "User count and mean inactivity per status",
                        STATS_BY_STATUS, List.of()));
    }

    private static List<String> roles(Readable row) {
        String[] roles = row.get("roles", String[].class);
        return roles == null ? List.of() : List.of(roles);
    }

    private static double round2(double value) {
        return Math.round(value * 100.0) / 100.0;
    }

    private static User toUser(Readable row) {
        return new User(
                row.get("id", Long.class),
                row.get("name", String.class),
                row.get("email", String.class),
                row.get("status", String.class),
                roles(row),
                row.get("avatar", String.class),
                row.get("bio", String.class),
                row.get("last_active", Instant.class),
                row.get("created_at", Instant.class),
                row.get("updated_at", Instant.class));
    }
}
