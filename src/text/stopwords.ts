// Stop-word lists, one per language, as Lucene's analyzers (and so Pyserini) ship them:
//   eng: EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (33 words; Apache-2.0);
//   deu, rus, spa: the Snowball project's lists (snowballstem.org, BSD), which Lucene's German,
//     Russian and Spanish analyzers load;
//   arb, hin: Jacques Savoy's lists (BSD) from Lucene's ArabicAnalyzer and HindiAnalyzer (the Hindi
//     list without the extra HindiNormalizer spellings, since we do not run that normalizer);
//   ell: Lucene's GreekAnalyzer list (written in the folded form: no accents, final σ);
//   tha: Lucene's ThaiAnalyzer list (the 2025 curated one); tur: Lucene's TurkishAnalyzer list.
// Words are kept as plain space-separated strings (data, not code); analyzer.ts normalises them
// exactly as it normalises tokens, so list spellings need not match our NFKC output by hand.

// prettier-ignore
export const STOPWORDS: Readonly<Record<string, string>> = {
  eng:
    "a an and are as at be but by for if in into is it no not of on or such that the their then " +
    "there these they this to was will with",
  deu:
    "aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes " +
    "anderm andern anderr anders auch auf aus bei bin bis bist da damit dann der den des dem die das " +
    "daß derselbe derselben denselben desselben demselben dieselbe dieselben dasselbe dazu dein deine " +
    "deinem deinen deiner deines denn derer dessen dich dir du dies diese diesem diesen dieser dieses " +
    "doch dort durch ein eine einem einen einer eines einig einige einigem einigen einiger einiges " +
    "einmal er ihn ihm es etwas euer eure eurem euren eurer eures für gegen gewesen hab habe haben hat " +
    "hatte hatten hier hin hinter ich mich mir ihr ihre ihrem ihren ihrer ihres euch im in indem ins " +
    "ist jede jedem jeden jeder jedes jene jenem jenen jener jenes jetzt kann kein keine keinem keinen " +
    "keiner keines können könnte machen man manche manchem manchen mancher manches mein meine meinem " +
    "meinen meiner meines mit muss musste nach nicht nichts noch nun nur ob oder ohne sehr sein seine " +
    "seinem seinen seiner seines selbst sich sie ihnen sind so solche solchem solchen solcher solches " +
    "soll sollte sondern sonst über um und uns unse unsem unsen unser unses unter viel vom von vor " +
    "während war waren warst was weg weil weiter welche welchem welchen welcher welches wenn werde " +
    "werden wie wieder will wir wird wirst wo wollen wollte würde würden zu zum zur zwar zwischen",
  rus:
    "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне " +
    "было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до " +
    "вас нибудь опять уж вам сказал ведь там потом себя ничего ей может они тут где есть надо ней для " +
    "мы тебя их чем была сам чтоб без будто человек чего раз тоже себе под жизнь будет ж тогда кто " +
    "этот говорил того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее кажется " +
    "сейчас были куда зачем сказать всех никогда сегодня можно при наконец два об другой хоть после " +
    "над больше тот через эти нас про всего них какая много разве сказала три эту моя впрочем хорошо " +
    "свою этой перед иногда лучше чуть том нельзя такой им более всегда конечно всю между",
  spa:
    "de la que el en y a los del se las por un para con no una su al lo como más pero sus le ya o " +
    "este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos " +
    "durante todos uno les ni contra otros ese eso ante ellos e esto mí antes algunos qué unos yo " +
    "otro otras otra él tanto esa estos mucho quienes nada muchos cual poco ella estar estas algunas " +
    "algo nosotros mi mis tú te ti tu tus ellas nosotras vosotros vosotras os mío mía míos mías tuyo " +
    "tuya tuyos tuyas suyo suya suyos suyas nuestro nuestra nuestros nuestras vuestro vuestra " +
    "vuestros vuestras esos esas estoy estás está estamos estáis están esté estés estemos estéis " +
    "estén estaré estarás estará estaremos estaréis estarán estaría estarías estaríamos estaríais " +
    "estarían estaba estabas estábamos estabais estaban estuve estuviste estuvo estuvimos " +
    "estuvisteis estuvieron estuviera estuvieras estuviéramos estuvierais estuvieran estuviese " +
    "estuvieses estuviésemos estuvieseis estuviesen estando estad he has ha hemos habéis han haya " +
    "hayas hayamos hayáis hayan habré habrás habrá habremos habréis habrán habría habrías habríamos " +
    "habríais habrían había habías habíamos habíais habían hube hubiste hubo hubimos hubisteis " +
    "hubieron hubiera hubieras hubiéramos hubierais hubieran hubiese hubieses hubiésemos hubieseis " +
    "hubiesen habiendo habido habida habidos habidas soy eres es somos sois son sea seas seamos " +
    "seáis sean seré serás será seremos seréis serán sería serías seríamos seríais serían era eras " +
    "éramos erais eran fui fuiste fue fuimos fuisteis fueron fuera fueras fuéramos fuerais fueran " +
    "fuese fueses fuésemos fueseis fuesen siendo sido tengo tienes tiene tenemos tenéis tienen tenga " +
    "tengas tengamos tengáis tengan tendré tendrás tendrá tendremos tendréis tendrán tendría " +
    "tendrías tendríamos tendríais tendrían tenía tenías teníamos teníais tenían tuve tuviste tuvo " +
    "tuvimos tuvisteis tuvieron tuviera tuvieras tuviéramos tuvierais tuvieran tuviese tuvieses " +
    "tuviésemos tuvieseis tuviesen teniendo tenido tenida tenidos tenidas tened",
  arb:
    "من ومن منها منه في وفي فيها فيه و ف ثم او أو ب بها به ا أ اى اي أي أى لا ولا الا ألا إلا لكن ما " +
    "وما كما فما عن مع اذا إذا ان أن إن انها أنها إنها انه أنه إنه بان بأن فان فأن وان وأن وإن التى " +
    "التي الذى الذي الذين الى الي إلى إلي على عليها عليه اما أما إما ايضا أيضا كل وكل لم ولم لن ولن " +
    "هى هي هو وهى وهي وهو فهى فهي فهو انت أنت لك لها له هذه هذا تلك ذلك هناك كانت كان يكون تكون " +
    "وكانت وكان غير بعض قد نحو بين بينما منذ ضمن حيث الان الآن خلال بعد قبل حتى عند عندما لدى جميع",
  hin:
    "अंदर अत अपना अपनी अपने अभी आदि आप इत्यादि इन इनका इन्हीं इन्हें इन्हों इस इसका इसकी इसके इसमें इसी " +
    "इसे उन उनका उनकी उनके उनको उन्हीं उन्हें उन्हों उस उसके उसी उसे एक एवं एस ऐसे और कई कर करता करते " +
    "करना करने करें कहते कहा का काफ़ी कि कितना किन्हें किन्हों किया किर किस किसी किसे की कुछ कुल के को " +
    "कोई कौन कौनसा गया घर जब जहाँ जा जितना जिन जिन्हें जिन्हों जिस जिसे जीधर जैसा जैसे जो तक तब तरह " +
    "तिन तिन्हें तिन्हों तिस तिसे तो था थी थे दबारा दिया दुसरा दूसरे दो द्वारा न नहीं ना निहायत नीचे ने " +
    "पर पहले पूरा पे फिर बनी बही बहुत बाद बाला बिलकुल भी भीतर मगर मानो मे में यदि यह यहाँ यही या " +
    "यिह ये रखें रहा रहे ऱ्वासा लिए लिये लेकिन व वर्ग वह वहाँ वहीं वाले वुह वे वग़ैरह संग सकता सकते " +
    "सबसे सभी साथ साबुत साभ सारा से सो ही हुआ हुई हुए है हैं हो होता होती होते होना होने",
  ell:
    "ο η το οι τα του τησ των τον την και κι κ ειμαι εισαι ειναι ειμαστε ειστε στο στον στη στην μα " +
    "αλλα απο για προσ με σε ωσ παρα αντι κατα μετα θα να δε δεν μη μην επι ενω εαν αν τοτε που πωσ " +
    "ποιοσ ποια ποιο ποιοι ποιεσ ποιων ποιουσ αυτοσ αυτη αυτο αυτοι αυτων αυτουσ αυτεσ αυτα εκεινοσ " +
    "εκεινη εκεινο εκεινοι εκεινεσ εκεινα εκεινων εκεινουσ οπωσ ομωσ ισωσ οσο οτι",
  tha:
    "ไว้ ไม่ ให้ ใน โดย ได้ แห่ง แล้ว และ แต่ เอง เลย เรา เมื่อ เพื่อ เพราะ เป็นการ เป็น เนื่องจาก เดียวกัน " +
    "เดียว เช่น เฉพาะ เคย เขา อีก อาจ อะไร อย่าง อยู่ อยาก หาก หลาย หลังจาก หลัง หรือ หนึ่ง ส่วน สุด " +
    "สําหรับ สำหรับ ว่า ระหว่าง รวม ยัง มี มาก พร้อม บาง น่า นี้ นั้น นอกจาก ทุก ที่สุด ที่ ทําให้ ทำให้ ทั้งนี้ " +
    "ทั้ง ถ้า ถูก ถึง ต้อง ต่างๆ ต่าง ต่อ ตาม ตั้งแต่ ด้วย ดัง ซึ่ง จึง จาก จะ คือ ความ ครั้ง คง ของ ขณะ ก่อน " +
    "ก็ การ กับ กัน กว่า",
  tur:
    "a acaba acep açıkça açıkçası adamakıllı adeta ait altı altmış ama amma anca ancak arada artık " +
    "aslında aynen ayrıca az bana bari başka başkası bazen bazı belki ben benden beni benim beri " +
    "beriki beş bilcümle bile bin binaen binaenaleyh bir biraz birazdan birbiri birçoğu birçok birden " +
    "birdenbire biri birice birileri birisi birkaç birkaçı birkez birlikte birşey birşeyi bitevi " +
    "biteviye bittabi biz bizatihi bizce bizcileyin bizden bize bizi bizim bizimki bizzat boşuna " +
    "böyle böylece böylecene böylelikle böylemesine böylesine bu buna bunda bundan bunlar bunları " +
    "bunların bunu bunun buracıkta burada buradan burası büsbütün bütün cuk cumbadak cumburlop " +
    "cumhurca cuppadak cümlesi cümleten çabuk çabukça çeşitli çoğu çoğun çoğunca çoğunlukla çok " +
    "çokça çokları çoklarınca çokluk çoklukla çünkü da daha dahi dahil dahilen daima dair dayanarak " +
    "de defa değil değin dek demin demincek deminden denli derakap derhal derken diğer diğeri diye " +
    "doğru doksan dokuz dolayı dolayısıyla dört dörtnala edecek eden ederek edilecek ediliyor " +
    "edilmesi ediyor eğer elbet elbette elli emme en enikonu epey epeyce epeyi esasen esnasında " +
    "etmesi etraflı etraflıca etti ettiği ettiğini evleviyetle evvel evvela evvelce evvelden " +
    "evvelemirde evveli fakat filanca gah gayet gayetle gayrı gayri geçende geçenlerde gelgelelim " +
    "gene gerçi gerek gırla gibi gibilerden gibisinden gine göre hakeza halbuki halen halihazırda " +
    "haliyle handiyse hangi hangisi hani hariç hasebiyle hasılı hatta hele hem henüz hep hepsi her " +
    "herhangi herkes herkesin hiç hiçbir hiçbiri hoş hulasaten için iken iki ila ile ilen ilgili ilk " +
    "illa illaki imdi indinde inen insermi ise ister iş işte itibaren itibarıyla itibariyle iyi " +
    "iyice iyicene kaçı kadar kaffesi kah kala kanımca karşın katrilyon kelli kendi kendilerine " +
    "kendini kendisi kendisine kendisini kere keşke kez keza kezalik kırk kısaca ki kim kimden kime " +
    "kimi kimisi kimse kimsecik kimsecikler külliyen lakin leh lütfen maada madem mademki mamafih " +
    "mebni meğer meğerki meğerse mı milyar milyon mu mü nasıl nasılsa naşi nazaran ne neden " +
    "nedeniyle nedenle nedense nerde nerden nerdeyse nere nerede nereden neredeyse neresi nereye " +
    "netekim neye neyi neyse nice niçin nihayet nihayetinde nitekim niye o olan olarak oldu olduğu " +
    "olduğunu oldukça olduklarını olmadı olmadığı olmak olması olmayan olmaz olsa olsun olup olur " +
    "olursa oluyor on ona onca onculayın onda ondan onlar onlardan onları onların onu onun oracık " +
    "oracıkta orada oradan oranca oranla oraya otuz oysa oysaki öbür öbürkü öbürü önce önceden " +
    "önceleri öncelikle öteki ötekisi öyle öylece öylelikle öylemesine pek pekala pekçe peki " +
    "peyderpey rağmen sadece sahi sahiden sana sanki sekiz seksen sen senden seni senin siz sizden " +
    "sizi sizin sonra sonradan sonraları sonunda şayet şey şeyden şeyi şeyler şimdi şöyle şu şuna " +
    "şuncacık şunda şundan şunlar şunları şunu şunun şura şuracık şuracıkta şurası tabii tam tamam " +
    "tamamen tamamıyla tarafından tek trilyon tüm üç üzere var vardı vasıtasıyla ve velev velhasıl " +
    "velhasılıkelam veya veyahut ya yahut yakında yakından yakınlarda yakinen yalnız yalnızca yani " +
    "yapacak yapılan yapılması yapıyor yapmak yaptı yaptığı yaptığını yaptıkları yedi yeniden " +
    "yenilerde yerine yetmiş yine yirmi yok yoksa yoluyla yüz yüzünden zarfında zaten zati zira",
};
