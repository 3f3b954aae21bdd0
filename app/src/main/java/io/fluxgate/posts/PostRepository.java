package io.fluxgate.posts;

import java.time.Instant;
import java.util.List;

import io.fluxgate.db.NamedQuery;
import io.r2dbc.spi.Readable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.r2dbc.core.Parameter;
import org.springframework.stereotype.Repository;

/** Every posts query. Values are bind parameters only. */
@Repository
class PostRepository implements NamedQuery.Source {

    private static final String COLUMNS = "id, author_id, title, body, created_at, updated_at";

    static final String PAGE_BEFORE = "SELECT " + COLUMNS + " FROM posts WHERE id < $1 ORDER BY id DESC LIMIT $2";
    static final String AUTHOR_PAGE_BEFORE = "SELECT " + COLUMNS + " FROM posts WHERE author_id = $1 AND id < $2"
            + " ORDER BY id DESC LIMIT $3";

    private final DatabaseClient db;

    PostRepository(DatabaseClient db) {
        this.db = db;
    }

    Mono<Post> insert(long authorId, String title, String body) {
        return db.sql("INSERT INTO posts (author_id, title, body) VALUES ($1, $2, $3) RETURNING " + COLUMNS)
                .bind(0, authorId).bind(1, title).bind(2, body)
                .map(PostRepository::toPost)
                .one();
    }

    Mono<Post> findById(long id) {
        return db.sql("SELECT " + COLUMNS + " FROM posts WHERE id = $1")
                .bind(0, id)
                .map(PostRepository::toPost)
                .one();
    }

    /** Newest first; {@code limit + 1} rows below the cursor id, so inserts never shift a page. */
    Flux<Post> pageBefore(long beforeId, Long authorId, int limit) {
        if (authorId == null) {
            return db.sql(PAGE_BEFORE)
                    .bind(0, beforeId).bind(1, limit + 1)
                    .map(PostRepository::toPost)
                    .all();
        }
        return db.sql(AUTHOR_PAGE_BEFORE)
                .bind(0, authorId).bind(1, beforeId).bind(2, limit + 1)
                .map(PostRepository::toPost)
                .all();
    }

    /** Null fields keep their value. */
    Mono<Post> update(long id, String title, String body) {
        return db.sql("UPDATE posts SET title = coalesce($1, title), body = coalesce($2, body) WHERE id = $3"
                        + " RETURNING " + COLUMNS)
                .bind(0, Parameter.fromOrEmpty(title, String.class))
                .bind(1, Parameter.fromOrEmpty(body, String.class))
                .bind(2, id)
                .map(PostRepository::toPost)
                .one();
    }

    Mono<Long> delete(long id) {
        return db.sql("DELETE FROM posts WHERE id = $1").bind(0, id).fetch().rowsUpdated();
    }

    @Override
    public List<NamedQuery> namedQueries() {
        return List.of(
                new NamedQuery("posts-page", "Newest posts below a cursor (keyset page)",
                        PAGE_BEFORE, List.of(Long.MAX_VALUE, 51)),
                new NamedQuery("author-posts-page", "One author's newest posts below a cursor (keyset page)",
                        AUTHOR_PAGE_BEFORE, List.of(1L, Long.MAX_VALUE, 51)));
    }

    private static Post toPost(Readable row) {
        return new Post(
                row.get("id", Long.class),
                row.get("author_id", Long.class),
                row.get("title", String.class),
                row.get("body", String.class),
                row.get("created_at", Instant.class),
                row.get("updated_at", Instant.class));
    }
}
