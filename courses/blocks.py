"""StreamField blocks for lessons.

The quiz block keeps its answer key (`is_correct`) on the server: its template
renders only prompts and choice ids, and grading happens in
`courses.services.quiz_submit`.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.embeds.blocks import EmbedBlock
from wagtail.images.blocks import ImageChooserBlock


class ImageBlock(blocks.StructBlock):
    image = ImageChooserBlock()
    caption = blocks.CharBlock(required=False)

    class Meta:
        icon = "image"
        label = _("Image")
        template = "courses/blocks/image.html"


class VideoBlock(blocks.StructBlock):
    """A video: an uploaded file (kept in the storage backend) or an embed URL."""

    video_file = DocumentChooserBlock(required=False, label=_("Uploaded video file"))
    embed = EmbedBlock(required=False, label=_("Embed URL"))
    caption = blocks.CharBlock(required=False)

    class Meta:
        icon = "media"
        label = _("Video")
        template = "courses/blocks/video.html"

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        if not value.get("video_file") and not value.get("embed"):
            raise blocks.StructBlockValidationError(
                block_errors={"video_file": ValidationError(_("Choose an uploaded video or give an embed URL."))}
            )
        return value


class DocumentBlock(blocks.StructBlock):
    document = DocumentChooserBlock()
    description = blocks.CharBlock(required=False)

    class Meta:
        icon = "doc-full"
        label = _("Document")
        template = "courses/blocks/document.html"


class CalloutBlock(blocks.StructBlock):
    kind = blocks.ChoiceBlock(
        choices=[("info", _("Note")), ("tip", _("Tip")), ("warning", _("Warning"))], default="info"
    )
    text = blocks.RichTextBlock(features=["bold", "italic", "link"])

    class Meta:
        icon = "warning"
        label = _("Callout")
        template = "courses/blocks/callout.html"


class QuizChoiceBlock(blocks.StructBlock):
    text = blocks.CharBlock()
    is_correct = blocks.BooleanBlock(required=False, label=_("Correct answer"))


class QuizQuestionBlock(blocks.StructBlock):
    prompt = blocks.TextBlock()
    choices = blocks.ListBlock(QuizChoiceBlock(), min_num=2)
    explanation = blocks.TextBlock(required=False, help_text=_("Shown once the trainee has passed the quiz."))

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        if not any(choice["is_correct"] for choice in value["choices"]):
            raise blocks.StructBlockValidationError(
                block_errors={"choices": ValidationError(_("Mark at least one choice as correct."))}
            )
        return value


class QuizBlock(blocks.StructBlock):
    title = blocks.CharBlock(default=_("Check your understanding"))
    pass_mark = blocks.IntegerBlock(min_value=0, max_value=100, default=60, help_text=_("Percent"))
    questions = blocks.ListBlock(QuizQuestionBlock(), min_num=1)
    max_attempts = blocks.IntegerBlock(
        required=False,
        min_value=1,
        max_value=100,
        label=_("Attempts allowed"),
        help_text=_("Leave blank for the site's default."),
    )
    cooldown_minutes = blocks.IntegerBlock(
        required=False,
        min_value=0,
        max_value=7 * 24 * 60,
        label=_("Minutes between attempts"),
        help_text=_("Leave blank for the site's default; 0 lets a trainee try again at once."),
    )
    counted_attempt = blocks.ChoiceBlock(
        choices=[("last", _("The last attempt")), ("first", _("The first attempt"))],
        default="last",
        label=_("The score that counts"),
        help_text=_("For progress and certificates: never the best of several attempts."),
    )

    class Meta:
        icon = "list-ul"
        label = _("Quiz (multiple choice)")
        template = "courses/blocks/quiz.html"


class LessonBodyBlock(blocks.StreamBlock):
    rich_text = blocks.RichTextBlock(label=_("Rich text"))
    image = ImageBlock()
    video = VideoBlock()
    document = DocumentBlock()
    callout = CalloutBlock()
    quiz = QuizBlock()
