"""TwiML answers, built as XML elements so caller-supplied text can never break the document."""

import xml.etree.ElementTree as ET

from fastapi.responses import Response

# The voice a <Say> and the recogniser of a <Gather> use, per conversation language.
SPEECH_LANGUAGES = {"es": "es-ES", "en": "en-US"}


class TwiML:
    def __init__(self) -> None:
        self.root = ET.Element("Response")

    @staticmethod
    def language(locale: str) -> str:
        return SPEECH_LANGUAGES.get(locale[:2], "es-ES")

    def say(self, text: str, locale: str, parent: ET.Element | None = None) -> "TwiML":
        parent = self.root if parent is None else parent
        element = ET.SubElement(parent, "Say", {"language": self.language(locale)})
        element.text = text
        return self

    def gather(self, action: str, locale: str, **attributes: str) -> ET.Element:
        fixed = {"action": action, "method": "POST", "language": self.language(locale)}
        return ET.SubElement(self.root, "Gather", {**fixed, **attributes})

    def verb(self, name: str, text: str | None = None, **attributes: str) -> "TwiML":
        element = ET.SubElement(self.root, name, attributes)
        element.text = text
        return self

    def dial_client(self, identity: str) -> "TwiML":
        """Connect the call to a softphone (the provider's browser client) by its identity."""
        dial = ET.SubElement(self.root, "Dial")
        ET.SubElement(dial, "Client").text = identity
        return self

    def document(self) -> str:
        body = ET.tostring(self.root, encoding="unicode", xml_declaration=False)
        return '<?xml version="1.0" encoding="UTF-8"?>' + body

    def response(self) -> Response:
        return Response(self.document(), media_type="application/xml")
