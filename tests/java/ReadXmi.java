// Reads XMI files non-leniently with Apache UIMA's XmiCasDeserializer against one cTAKES TypeSystem.xml and prints
// what a cTAKES consumer would see, one tab-separated line per item (see test_java_interop.py for the format).
//
// Usage: java -cp uimaj-core.jar:. ReadXmi TypeSystem.xml file1.xmi [file2.xmi ...]
// Exit status 1 when any file fails to deserialize (its ERROR line says why).

import java.io.File;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

import org.apache.uima.UIMAFramework;
import org.apache.uima.cas.CAS;
import org.apache.uima.cas.Feature;
import org.apache.uima.cas.FeatureStructure;
import org.apache.uima.cas.Type;
import org.apache.uima.cas.TypeSystem;
import org.apache.uima.cas.ArrayFS;
import org.apache.uima.cas.impl.XmiCasDeserializer;
import org.apache.uima.cas.text.AnnotationFS;
import org.apache.uima.resource.metadata.TypeSystemDescription;
import org.apache.uima.util.CasCreationUtils;
import org.apache.uima.util.XMLInputSource;

public final class ReadXmi {
    private static final String IDENTIFIED_ANNOTATION = "org.apache.ctakes.typesystem.type.textsem.IdentifiedAnnotation";

    private ReadXmi() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        TypeSystemDescription description =
                UIMAFramework.getXMLParser().parseTypeSystemDescription(new XMLInputSource(new File(args[0])));
        CAS cas = CasCreationUtils.createCas(description, null, null);
        TypeSystem ts = cas.getTypeSystem();
        Type identified = ts.getType(IDENTIFIED_ANNOTATION);
        Type documentAnnotation = ts.getType(CAS.TYPE_NAME_DOCUMENT_ANNOTATION);
        boolean failed = false;
        for (int i = 1; i < args.length; i++) {
            File file = new File(args[i]);
            cas.reset();
            try (InputStream in = new FileInputStream(file)) {
                XmiCasDeserializer.deserialize(in, cas, false);  // lenient = false: unknown types/features fail
            } catch (Exception e) {
                out.println("ERROR\t" + file.getName() + "\t" + escape(String.valueOf(e)));
                failed = true;
                continue;
            }
            out.println("FILE\t" + file.getName());
            out.println("TEXT_UTF16_LENGTH\t" + file.getName() + "\t" + cas.getDocumentText().length());
            out.println("ANNOTATIONS\t" + file.getName() + "\t" + cas.getAnnotationIndex().size());
            for (AnnotationFS doc : cas.getAnnotationIndex(documentAnnotation)) {
                out.println("DOCUMENT\t" + file.getName() + "\t" + doc.getBegin() + "\t" + doc.getEnd());
            }
            for (AnnotationFS a : cas.getAnnotationIndex(identified)) {
                out.println(String.join("\t", "MENTION", file.getName(), a.getType().getShortName(),
                        Integer.toString(a.getBegin()), Integer.toString(a.getEnd()),
                        intFeature(a, "typeID"), intFeature(a, "polarity"), intFeature(a, "discoveryTechnique"),
                        cuis(a), escape(a.getCoveredText())));
            }
        }
        out.flush();
        System.exit(failed ? 1 : 0);
    }

    private static String intFeature(FeatureStructure fs, String name) {
        Feature feature = fs.getType().getFeatureByBaseName(name);
        return Integer.toString(fs.getIntValue(feature));
    }

    private static String cuis(FeatureStructure fs) {
        Feature feature = fs.getType().getFeatureByBaseName("ontologyConceptArr");
        FeatureStructure value = fs.getFeatureValue(feature);
        List<String> result = new ArrayList<>();
        if (value instanceof ArrayFS) {
            ArrayFS array = (ArrayFS) value;
            for (int i = 0; i < array.size(); i++) {
                FeatureStructure concept = array.get(i);
                Feature cui = concept.getType().getFeatureByBaseName("cui");
                result.add(cui != null ? concept.getStringValue(cui)
                        : "code:" + concept.getStringValue(concept.getType().getFeatureByBaseName("code")));
            }
        }
        return String.join(",", result);
    }

    private static String escape(String text) {
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n");
    }
}
