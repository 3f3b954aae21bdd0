package io.fluxgate.posts;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;

import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

import static org.assertj.core.api.Assertions.assertThat;

class PostApiTest extends IntegrationTest {

    record PostJson(long id, long authorId, String title, String body, String createdAt, String updatedAt) {
    }

    record PageJson(List<PostJson> data, boolean hasNextPage, String nextCursor) {
    }

    @Test
    void theCallerIsTheAuthor() {
        Account author = newUser("Author");
        PostJson post = create(author, Map.of("title", "  Hello  ", "body", "First post"))
                .expectStatus().isCreated()
                .expectHeader().valueMatches(HttpHeaders.LOCATION, "/api/posts/\\d+")
                .expectBody(PostJson.class).returnResult().getResponseBody();
        assertThat(post.authorId()).isEqualTo(author.id());
        assertThat(post.title()).isEqualTo("Hello");
        get(author, "/api/posts/{id}", post.id()).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.body").isEqualTo("First post");
    }

    @Test
    void authorIdCannotBeSupplied() {
        Account author = newUser("Sneaky");
        create(author, Map.of("title", "t", "body", "b", "authorId", 1)).expectStatus().isBadRequest();
    }

    @Test
    void invalidPostsAre400WithMessages() {
        Account author = newUser("Writer");
        create(author, Map.of("body", "no title")).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].message").isEqualTo("Title is required");
        create(author, Map.of("title", "t".repeat(201), "body", "b")).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].message").isEqualTo("Title cannot exceed 200 characters");
        create(author, Map.of("title", "Empty", "body", "  ")).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].message").isEqualTo("Body is required");
    }

    @Test
    void onlyTheAuthorOrAnAdminMayChangeAPost() {
        Account author = newUser("Owner");
        Account other = newUser("Stranger");
        long id = createdId(author, "Mine");
        patch(other, id, Map.of("title", "Stolen")).expectStatus().isForbidden();
        delete(other, id).expectStatus().isForbidden();
        patch(author, id, Map.of("title", "Edited")).expectStatus().isOk()
                .expectBody().jsonPath("$.title").isEqualTo("Edited").jsonPath("$.body").isEqualTo("Body of Mine");
        patch(admin(), id, Map.of("body", "Moderated")).expectStatus().isOk()
                .expectBody().jsonPath("$.body").isEqualTo("Moderated");
        delete(author, id).expectStatus().isNoContent();
        get(author, "/api/posts/{id}", id).exchange().expectStatus().isNotFound();
        patch(author, id, Map.of("title", "Gone")).expectStatus().isNotFound();
    }

    @Test
    void keysetListingByAuthorIsStableUnderInserts() {
        Account author = newUser("Prolific");
        List<Long> existing = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            existing.add(createdId(author, "Post " + i));
        }
        List<Long> seen = new ArrayList<>();
        String cursor = null;
        do {
            String uri = "/api/posts?authorId=" + author.id() + "&limit=2" + (cursor == null ? "" : "&after=" + cursor);
            PageJson page = get(author, uri).exchange().expectStatus().isOk()
                    .expectBody(PageJson.class).returnResult().getResponseBody();
            page.data().forEach(post -> {
                assertThat(post.authorId()).isEqualTo(author.id());
                seen.add(post.id());
            });
            cursor = page.nextCursor();
            createdId(author, "Written while paging");
        } while (cursor != null);
        // Newest first, each existing post exactly once; posts written meanwhile sort above page one.
        assertThat(seen).doesNotHaveDuplicates().isSortedAccordingTo(java.util.Comparator.reverseOrder());
        List<Long> newestFirst = new ArrayList<>(existing);
        java.util.Collections.reverse(newestFirst);
        assertThat(seen).containsExactlyElementsOf(newestFirst);
    }

    @Test
    void badListParametersAre400() {
        Account reader = newUser("Reader");
        get(reader, "/api/posts?authorId=abc").exchange().expectStatus().isBadRequest();
        get(reader, "/api/posts?limit=1000").exchange().expectStatus().isBadRequest();
        get(reader, "/api/posts?after=%27%3B--").exchange().expectStatus().isBadRequest();
    }

    private long createdId(Account author, String title) {
        return create(author, Map.of("title", title, "body", "Body of " + title))
                .expectStatus().isCreated()
                .expectBody(PostJson.class).returnResult().getResponseBody().id();
    }

    private WebTestClient.ResponseSpec create(Account as, Map<String, Object> body) {
        return client.post().uri("/api/posts").header(HttpHeaders.AUTHORIZATION, as.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    private WebTestClient.ResponseSpec patch(Account as, long id, Map<String, Object> body) {
        return client.patch().uri("/api/posts/{id}", id).header(HttpHeaders.AUTHORIZATION, as.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    private WebTestClient.ResponseSpec delete(Account as, long id) {
        return client.delete().uri("/api/posts/{id}", id).header(HttpHeaders.AUTHORIZATION, as.bearer()).exchange();
    }
}
