package io.fluxgate.posts;

import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Size;

/** Request bodies of the posts endpoints; titles are trimmed on arrival. */
final class PostRequests {

    private PostRequests() {
    }

    @Schema(name = "NewPost")
    record Create(
            @NotNull(message = "Title is required")
            @Size(max = 200, message = "Title cannot exceed 200 characters")
            String title,

            @NotNull(message = "Body is required")
            @Size(max = 20000, message = "Body cannot exceed 20000 characters")
            String body) {

        Create {
            title = blankToNull(title);
            body = blankToNull(body);
        }
    }

    /** Absent fields stay as they are. */
    @Schema(name = "PostPatch")
    record Patch(
            @Size(min = 1, message = "Title is required")
            @Size(max = 200, message = "Title cannot exceed 200 characters")
            String title,

            @Size(min = 1, message = "Body is required")
            @Size(max = 20000, message = "Body cannot exceed 20000 characters")
            String body) {

        Patch {
            title = title == null ? null : title.strip();
            body = body == null ? null : body.strip();
        }

        boolean isEmpty() {
            return title == null && body == null;
        }
    }

    private static String blankToNull(String value) {
        if (value == null) {
            return null;
        }
        String stripped = value.strip();
        return stripped.isEmpty() ? null : stripped;
    }
}
