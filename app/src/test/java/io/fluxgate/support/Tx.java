package io.fluxgate.support;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** An explicit transaction on its own connection, driven step by step from a test. */
public final class Tx implements AutoCloseable {

    private final Connection connection;

    private Tx(Connection connection) {
        this.connection = connection;
    }

    public static Tx begin(ConnectionFactory connections) {
        Connection connection = Mono.from(connections.create()).block();
        Mono.from(connection.beginTransaction()).block();
        return new Tx(connection);
    }

    /** Inserts a post and returns its id. */
    public long insertPost(long authorId, String title) {
        return Flux.from(connection.createStatement("INSERT INTO posts (author_id, title, body) VALUES ($1, $2, 'b') RETURNING id")
                        .bind(0, authorId).bind(1, title).execute())
                .flatMap(result -> result.map((row, meta) -> row.get(0, Long.class)))
                .blockLast();
    }

    /** Runs one statement inside this transaction, for its effect (a row lock, an update). */
    public void execute(String sql, Object... binds) {
        io.r2dbc.spi.Statement statement = connection.createStatement(sql);
        for (int i = 0; i < binds.length; i++) {
            statement.bind(i, binds[i]);
        }
        Flux.from(statement.execute()).flatMap(result -> result.getRowsUpdated()).blockLast();
    }

    /** The first column of the first row {@code sql} returns inside this transaction. */
    public <T> T value(String sql, Class<T> type, Object... binds) {
        io.r2dbc.spi.Statement statement = connection.createStatement(sql);
        for (int i = 0; i < binds.length; i++) {
            statement.bind(i, binds[i]);
        }
        return Flux.from(statement.execute()).flatMap(result -> result.map((row, meta) -> row.get(0, type))).blockFirst();
    }

    /** Inserts a post in a transaction of its own and commits it. */
    public static long commitPost(ConnectionFactory connections, long authorId, String title) {
        try (Tx tx = begin(connections)) {
            long id = tx.insertPost(authorId, title);
            tx.commit();
            return id;
        }
    }

    public void commit() {
        Mono.from(connection.commitTransaction()).block();
    }

    @Override
    public void close() {
        Mono.from(connection.close()).block();
    }
}
